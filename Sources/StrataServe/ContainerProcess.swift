import CLinux
import Glibc
import NIOCore
import NIOPosix
import StrataOS

/// The descriptors of one container run, made before its runner starts: pipes for stdin,
/// stdout and stderr, or one terminal (a pty) for all three, and the status pipe the
/// runner says "started" on (`ContainerRunner`).
struct ContainerDescriptors {
    /// The runner's 0, 1, 2 and 3.
    var child: [Int32]
    /// This process's ends: output to read (stdout then stderr, or the terminal), stdin to write.
    var outputs: [(OutputStream, Int32)]
    var stdin: Int32?
    var status: Int32
    /// The terminal's master, for resizing; -1 without one.
    var terminal: Int32

    static func make(tty: Bool, openStdin: Bool, size: (rows: UInt16, columns: UInt16)?) throws(SystemError) -> ContainerDescriptors {
        var made: [Int32] = []
        func pipePair() throws(SystemError) -> (read: Int32, write: Int32) {
            var ends: [Int32] = [-1, -1]
            guard pipe2(&ends, O_CLOEXEC) == 0 else { throw SystemError("pipe2", path: "a container's stdio") }
            made += ends
            return (ends[0], ends[1])
        }
        do throws(SystemError) {
            let status = try pipePair()
            if tty {
                let (master, slave) = try PseudoTerminal.open(rows: size?.rows, columns: size?.columns)
                made += [master, slave]
                let path = "/dev/ptmx"
                // The channel owns the master and one copy; this one is for resizing.
                let reader = dup(master), resize = dup(master)
                guard reader >= 0, resize >= 0 else { throw SystemError("dup", path: path) }
                _ = fcntl(reader, F_SETFD, FD_CLOEXEC)
                _ = fcntl(resize, F_SETFD, FD_CLOEXEC)
                return ContainerDescriptors(
                    child: [slave, slave, slave, status.write], outputs: [(.stdout, reader)],
                    stdin: openStdin ? master : nil, status: status.read, terminal: resize, closeAfterSpawn: openStdin ? [slave] : [slave, master])
            }
            let stdout = try pipePair(), stderr = try pipePair()
            var input: Int32 = -1
            var stdinEnd: Int32?
            if openStdin {
                let pair = try pipePair()
                input = pair.read
                stdinEnd = pair.write
            } else {
                input = open("/dev/null", O_RDONLY | O_CLOEXEC)
                guard input >= 0 else { throw SystemError("open", path: "/dev/null") }
                made.append(input)
            }
            return ContainerDescriptors(
                child: [input, stdout.write, stderr.write, status.write], outputs: [(.stdout, stdout.read), (.stderr, stderr.read)],
                stdin: stdinEnd, status: status.read, terminal: -1, closeAfterSpawn: [input, stdout.write, stderr.write])
        } catch {
            for fd in made { close(fd) }
            throw error
        }
    }

    /// The child's ends this process closes once the runner has them.
    var closeAfterSpawn: [Int32]

    init(child: [Int32], outputs: [(OutputStream, Int32)], stdin: Int32?, status: Int32, terminal: Int32, closeAfterSpawn: [Int32]) {
        self.child = child; self.outputs = outputs; self.stdin = stdin; self.status = status; self.terminal = terminal
        self.closeAfterSpawn = closeAfterSpawn
    }

    /// After the spawn: the child's ends go (the status pipe's write end among them, so
    /// that its end of file means the runner is gone).
    func closeChildEnds() {
        for fd in Set(closeAfterSpawn + [child[3]]) { close(fd) }
    }

    /// After a failed spawn: everything goes.
    func closeAll() {
        closeChildEnds()
        for (_, fd) in outputs { close(fd) }
        if let stdin, !closeAfterSpawn.contains(stdin) { close(stdin) }
        close(status)
        if terminal >= 0 { close(terminal) }
    }

    /// Reads the status pipe until the runner says it started (true) or closes it (false,
    /// with what it wrote: why it did not start).
    func awaitStart() -> (started: Bool, message: String) {
        var said: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(status, &byte, 1)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            if said.isEmpty && byte == UInt8(ascii: "s") { return (true, "") }
            said.append(byte)
        }
        return (false, String(decoding: said, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "")
    }
}

/// Reads one of a container's outputs on an event loop and hands each chunk to the container.
final class OutputForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let stream: OutputStream
    let container: LiveContainer
    let closed: @Sendable () -> Void

    init(stream: OutputStream, container: LiveContainer, closed: @escaping @Sendable () -> Void) {
        self.stream = stream; self.container = container; self.closed = closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        container.output(stream, unwrapInboundIn(data), time: DockerTime.now())
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // End of file on a pipe: the writers are gone.
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A terminal's master reads EIO once every slave is closed: that is its end of file.
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
    }
}

import Dispatch
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import StrataJSON
import StrataOS
import Synchronization

/// The client half of `POST /strata/cli`: what `strata` does when `STRATA_HOST` names a
/// daemon. The command runs there, in this caller's directory with this caller's
/// variables; this process relays its stdin, stdout and stderr and exits with its status.
public enum CLIClient {
    /// The request, as the entry point read it from its process.
    public struct Invocation: Sendable {
        public var socket: String
        public var arguments: [String]
        public var workingDirectory: String
        public var environment: [String]
        /// The caller's stdin and stdout are a terminal: the command gets one too, of this size.
        public var terminal: (rows: UInt16, columns: UInt16)?
        /// Given where to send a new size, watches the caller's terminal and sends each change
        /// (the entry point's SIGWINCH); nil without a terminal.
        public var watchSize: (@Sendable (@escaping @Sendable (UInt16, UInt16) -> Void) -> Void)?

        public init(socket: String, arguments: [String], workingDirectory: String, environment: [String],
                    terminal: (rows: UInt16, columns: UInt16)?,
                    watchSize: (@Sendable (@escaping @Sendable (UInt16, UInt16) -> Void) -> Void)? = nil) {
            self.socket = socket; self.arguments = arguments; self.workingDirectory = workingDirectory
            self.environment = environment; self.terminal = terminal; self.watchSize = watchSize
        }
    }

    /// Runs the invocation and returns the command's exit status (125 when the daemon
    /// refused it or went away, with its sentence on stderr).
    public static func run(_ invocation: Invocation) -> Int32 {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var fields: [String: JSONValue] = [
            "Args": .array(invocation.arguments.map(JSONValue.string)), "WorkingDir": .string(invocation.workingDirectory),
            "Env": .array(invocation.environment.map(JSONValue.string)), "Tty": .bool(invocation.terminal != nil),
        ]
        if let size = invocation.terminal {
            fields["Rows"] = .int(Int64(size.rows))
            fields["Columns"] = .int(Int64(size.columns))
        }
        let outcome = Outcome()
        let body = JSON.compactBytes(.object(fields))
        let channel: Channel
        do {
            channel = try ClientBootstrap(group: group)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(HTTPRequestEncoder())
                        try pipeline.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
                        try pipeline.addHandler(ResponseHandler(outcome: outcome, body: body))
                    }
                }
                .connect(unixDomainSocketPath: invocation.socket).wait()
        } catch {
            say("cannot reach the daemon at unix://\(invocation.socket) (STRATA_HOST): \(error); start it with `strata serve`, or unset STRATA_HOST")
            return 125
        }
        // stdin on a thread of its own: it may be a file, a pipe or a terminal, and reads block.
        let input = channel
        do throws(SystemError) {
            try DetachedThread.start {
            outcome.streaming.wait()
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                let n = read(0, &buffer, buffer.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                input.writeAndFlush(input.allocator.buffer(bytes: frame(0, buffer[0..<n])), promise: nil)
            }
            input.close(mode: .output, promise: nil)
            }
        } catch {
            say("cannot read stdin for the daemon's command: \(error)")
            channel.close(promise: nil)
            return 125
        }
        if let watchSize = invocation.watchSize {
            watchSize { rows, columns in
                let size = JSON.compactBytes(.object(["Rows": .int(Int64(rows)), "Columns": .int(Int64(columns))]))
                input.writeAndFlush(input.allocator.buffer(bytes: frame(4, size)), promise: nil)
            }
        }
        // The close future only ever succeeds: it says the connection is over.
        do { try channel.closeFuture.wait() } catch {}
        return outcome.code.withLock { $0 } ?? {
            say("the daemon closed the connection before the command ended")
            return 125
        }()
    }

    /// What the client sends is framed as what it receives: stream 0 stdin, stream 4 a size.
    static func frame(_ stream: UInt8, _ bytes: some Collection<UInt8>) -> [UInt8] { Daemon.frame(stream, bytes) }

    static func say(_ text: String) {
        let line = Array(("strata: " + text + "\n").utf8)
        // Nowhere left to say it when stderr itself fails.
        do { try FileSystem.writeAll(2, line, display: "stderr") } catch {}
    }

    final class Outcome: Sendable {
        let code = Mutex<Int32?>(nil)
        /// Signalled once the connection is raw: stdin may flow from then on.
        let streaming = DispatchSemaphore(value: 0)
    }

    /// Sends the request; once the head says the stream is on, takes raw bytes (stdcopy frames).
    final class ResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let outcome: Outcome
        let body: [UInt8]
        var status: HTTPResponseStatus?
        var errorBody: [UInt8] = []

        init(outcome: Outcome, body: [UInt8]) { self.outcome = outcome; self.body = body }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "strata")
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Connection", value: "Upgrade")
            headers.add(name: "Upgrade", value: "tcp")
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/strata/cli", headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = head.status
            case .body(let buffer):
                errorBody += buffer.readableBytesView
            case .end:
                // 101: the decoder has finished the head's message; what follows is the stream.
                if status == .switchingProtocols {
                    let pipeline = context.pipeline.syncOperations
                    do {
                        let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
                        try pipeline.addHandler(FrameReader(outcome: outcome), position: .after(decoder))
                        _ = pipeline.removeHandler(try pipeline.handler(type: HTTPRequestEncoder.self))
                        _ = pipeline.removeHandler(context: context)
                        _ = pipeline.removeHandler(decoder)
                        outcome.streaming.signal()
                    } catch {
                        CLIClient.say("cannot read the daemon's answer: \(error)")
                        context.close(promise: nil)
                    }
                    return
                }
                let message = (try? JSON.parse(errorBody))?["message"]?.stringValue ?? String(decoding: errorBody, as: UTF8.self)
                CLIClient.say(message.isEmpty ? "the daemon answered \(status.map { "\($0.code)" } ?? "nothing")" : message)
                outcome.code.withLock { $0 = 125 }
                context.close(promise: nil)
            }
        }
    }

    /// stdcopy frames to this process's stdout and stderr; stream 3 is the exit status.
    final class FrameReader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let outcome: Outcome
        var pending: [UInt8] = []

        init(outcome: Outcome) { self.outcome = outcome }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += unwrapInboundIn(data).readableBytesView
            while pending.count >= 8 {
                let size = pending[4..<8].reduce(0) { $0 << 8 | Int($1) }
                guard pending.count >= 8 + size else { break }
                let stream = pending[0]
                let payload = Array(pending[8..<(8 + size)])
                pending.removeFirst(8 + size)
                switch stream {
                case 3:
                    let code = (try? JSON.parse(payload))?["ExitCode"]?.intValue ?? 125
                    outcome.code.withLock { $0 = Int32(truncatingIfNeeded: code) }
                default:
                    // A reader that went away (`| head`): the command goes too, as it would without a daemon.
                    let fd: Int32 = stream == 2 ? 2 : 1
                    do { try FileSystem.writeAll(fd, payload, display: "output") } catch {
                        outcome.code.withLock { $0 = $0 ?? 141 }
                        context.close(promise: nil)
                        return
                    }
                }
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        }
    }
}

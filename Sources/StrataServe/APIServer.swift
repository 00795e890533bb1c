import Dispatch
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import StrataEnvironment
import StrataOS
import Synchronization

/// `strata serve`: Docker's Engine API on a UNIX socket (and on TCP only when asked),
/// over the store daemonless strata uses. Nothing authenticates a client: whoever can
/// open the socket can do what root can, as with Docker's.
public final class APIServer: Sendable {
    let daemon: Daemon
    private let group: MultiThreadedEventLoopGroup
    private let pool: NIOThreadPool
    private let channels = Mutex<[Channel]>([])
    private let sockets = Mutex<[String]>([])
    private let finished = DispatchSemaphore(value: 0)
    private let shuttingDown = Atomic<Bool>(false)

    public init(configuration: ServeConfiguration) throws(StrataError) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        // Routes block on the engine (building, pulling, removing trees): enough threads
        // that fifty `docker run`s at once do not queue behind each other's builds.
        pool = NIOThreadPool(numberOfThreads: 32)
        pool.start()
        daemon = try Daemon(configuration: configuration, group: group, pool: pool)
    }

    /// Listens on `socket` (made 0660, group `group` when given) and on `tcp` when given.
    /// Refuses a socket another daemon answers on.
    public func listen(socket: String, group socketGroup: gid_t?, tcp: (host: String, port: Int)?) throws(StrataError) {
        let directory = FileSystem.parent(of: socket)
        do { try FileSystem.makeDirectories(directory, mode: 0o755) } catch {
            throw .input(path: directory, reason: "cannot make the socket's directory: \(error.reason)")
        }
        if Self.answers(socket) {
            throw .input(path: socket, reason: "another daemon listens on this socket; stop it, or give --socket another path")
        }
        daemon.removeEndedAutoRemoveContainers()
        let router = Router(routes: daemon.routes(), pool: pool, log: daemon.configuration.log)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(HTTPResponseEncoder())
                    // Bytes after a request that takes the connection over (stdin) are passed on, not dropped.
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
                    try pipeline.addHandler(HTTPServerPipelineHandler())
                    try pipeline.addHandler(HTTPServerProtocolErrorHandler())
                    try pipeline.addHandler(APIHandler(router: router))
                }
            }
        do {
            let unix = try bootstrap.bind(unixDomainSocketPath: socket, cleanupExistingSocketFile: true).wait()
            channels.withLock { $0.append(unix) }
            sockets.withLock { $0.append(socket) }
        } catch {
            throw .input(path: socket, reason: "cannot listen: \(error)")
        }
        guard chmod(socket, 0o660) == 0 else { throw .input(path: socket, reason: SystemError.text(errno)) }
        if let socketGroup, chown(socket, 0, socketGroup) != 0 {
            throw .input(path: socket, reason: "cannot give the socket to its group: \(SystemError.text(errno))")
        }
        if let tcp {
            do {
                let channel = try bootstrap.bind(host: tcp.host, port: tcp.port).wait()
                channels.withLock { $0.append(channel) }
            } catch {
                throw .input(path: "\(tcp.host):\(tcp.port)", reason: "cannot listen: \(error)")
            }
        }
        daemon.log("listening on unix://\(socket)" + (tcp.map { " and tcp://\($0.host):\($0.port)" } ?? ""))
    }

    /// Whether something accepts connections on the socket at `path`.
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// Blocks until `shutdown` has stopped the containers and closed every listener.
    public func wait() { finished.wait() }

    /// SIGTERM's work: no new connections, running containers stopped (SIGTERM, then
    /// SIGKILL after `grace` seconds, as `docker stop` does), then the listeners close.
    /// Containers, images and volumes stay in the store for the next start.
    public func shutdown(grace: Double = 10) {
        guard !shuttingDown.exchange(true, ordering: .relaxed) else { return }
        daemon.stopping.store(true, ordering: .relaxed)
        let listeners = channels.withLock { $0 }
        for channel in listeners { channel.close(mode: .all, promise: nil) }
        let running = daemon.running()
        if !running.isEmpty { daemon.log("stopping \(running.count) running container(s)") }
        let stopped = DispatchGroup()
        for live in running {
            stopped.enter()
            DispatchQueue.global().async { [daemon] in
                defer { stopped.leave() }
                do throws(APIError) {
                    let session = try daemon.session(live.id)
                    _ = try daemon.stop(session, seconds: grace)
                } catch {
                    daemon.log("container \(live.id): \(error.message)")
                }
            }
        }
        stopped.wait()
        for socket in sockets.withLock({ $0 }) { unlink(socket) }
        daemon.log("stopped")
        finished.signal()
    }
}

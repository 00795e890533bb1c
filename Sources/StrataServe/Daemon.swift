import Glibc
import NIOCore
import NIOPosix
import Strata
import StrataEnvironment
import StrataSessions
import StrataStore
import Synchronization

/// How `strata serve` was asked to run: passed in by the CLI, the only part that reads
/// the process's own state.
public struct ServeConfiguration: Sendable {
    /// The store the daemon serves (the same one daemonless strata uses).
    public var storeRoot: String
    /// The `strata` executable containers' runners are (`strata container-start`).
    public var runner: String
    /// The environment runners start with (`PATH`, `HOME`, …).
    public var runnerEnvironment: [String]
    /// The variables requests see (`RequestContext.variables`).
    public var variables: [String: String]
    /// Where the daemon says what it does and what went wrong: a line each.
    public var log: @Sendable (String) -> Void
    /// The `strata-fetch` executable downloads run in; nil: the one beside strata.
    public var fetchTool: String?

    public init(storeRoot: String, runner: String, runnerEnvironment: [String], variables: [String: String],
                log: @escaping @Sendable (String) -> Void, fetchTool: String? = nil) {
        self.storeRoot = storeRoot; self.runner = runner; self.runnerEnvironment = runnerEnvironment
        self.variables = variables; self.log = log; self.fetchTool = fetchTool
    }
}

/// The daemon's state: the containers it runs, and what every request shares (the
/// engine's configuration, the event loops, the thread pool routes run on).
final class Daemon: Sendable {
    let configuration: ServeConfiguration
    let store: Store
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let events = EventHub()
    private let live = Mutex<[String: LiveContainer]>([:])
    /// `docker exec` instances by id, as Docker keeps them: in memory, for as long as the daemon runs.
    let execs = Mutex<[String: ExecInstance]>([:])
    /// Set once SIGTERM came: new starts are refused while running containers stop.
    let stopping = Atomic<Bool>(false)

    init(configuration: ServeConfiguration, group: MultiThreadedEventLoopGroup, pool: NIOThreadPool) throws(StrataError) {
        self.configuration = configuration
        do { store = try Store(root: configuration.storeRoot) } catch { throw .store(error) }
        self.group = group
        self.pool = pool
    }

    func log(_ line: String) { configuration.log(line) }

    /// An engine for one request, holding a lease on the store's objects when `lease`
    /// (a request that builds, pulls or commits), as every CLI request does.
    func engine(lease: Bool = false) throws(APIError) -> Engine {
        var context = RequestContext(
            variables: configuration.variables, workingDirectory: "/", notes: { [configuration] in configuration.log($0) },
            fetchTool: configuration.fetchTool)
        if lease {
            do { context.lease = try store.leaseObjects() } catch { throw APIError(.internalServerError, "\(error)") }
        }
        return Engine(store: store, context: context)
    }

    /// The live state of session `id`, made on first use.
    func container(_ session: SessionRecord) -> LiveContainer {
        live.withLock { table in
            if let existing = table[session.id] { return existing }
            let made = LiveContainer(id: session.id, log: SessionLog(path: session.path + "/" + SessionLog.file),
                                     report: configuration.log)
            table[session.id] = made
            return made
        }
    }

    func forget(_ id: String) { _ = live.withLock { $0.removeValue(forKey: id) } }

    /// Every container a run is underway in.
    func running() -> [LiveContainer] { live.withLock { Array($0.values) }.filter(\.isRunning) }

    /// The session a client's word names: its name or id, a name with Docker's leading
    /// `/`, or the start of exactly one id.
    func session(_ word: String) throws(APIError) -> SessionRecord {
        let name = word.hasPrefix("/") ? String(word.dropFirst()) : word
        let sessions: [SessionRecord]
        do throws(StoreError) {
            if let found = try store.session(named: name) { return found }
            sessions = try store.listSessions()
        } catch { throw APIError(.internalServerError, error.description) }
        let matches = sessions.filter { $0.id.hasPrefix(name) }
        if matches.count == 1, !name.isEmpty { return matches[0] }
        if matches.count > 1 { throw APIError(.badRequest, "multiple IDs found with provided prefix: \(name)") }
        throw .noSuchContainer(word)
    }
}

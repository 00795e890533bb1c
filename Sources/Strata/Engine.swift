import StrataBuild
import StrataEnvironment
import StrataImages
import StrataLock
import StrataModel
import StrataSessions
import StrataStore

/// The operations behind strata's commands, on one store, for one request.
///
/// A thin façade over the parts of the engine, which follow the data flow: `Locker`
/// (manifest → lockfile), `Builder` (lockfile → layers), `Sessions` (a snapshot →
/// running sessions, and volumes) and `ImageStore` (sessions → images, image archives).
/// The CLI parses arguments, makes a `RequestContext` from its process and prints;
/// everything a test would want to call is here or in those parts.
public struct Engine: Sendable {
    public let store: Store
    public let context: RequestContext
    /// Refuse a missing or stale lockfile instead of re-locking (`--frozen`, default when `CI=true`).
    public var frozen: Bool
    /// Debian mirrors given by the request (`--mirror`), before every other source of them.
    public var mirrors: [String]

    public init(store: Store, context: RequestContext, frozen: Bool = false, mirrors: [String] = []) {
        self.store = store; self.context = context; self.frozen = frozen; self.mirrors = mirrors
    }

    public var locker: Locker { Locker(store: store, context: context, frozen: frozen, mirrors: mirrors) }
    public var builder: Builder { Builder(store: store, context: context, mirrors: mirrors) }
    public var sessions: Sessions { Sessions(store: store, context: context) }
    public var images: ImageStore { ImageStore(store: store, context: context) }

    /// The environment `argument` names (NAME for `envs/NAME.json`, or a manifest path,
    /// relative to the caller's working directory), read and validated.
    public func load(_ argument: String, lockfile: String? = nil) throws(StrataError) -> LoadedEnvironment {
        try LoadedEnvironment(paths: EnvironmentPaths(argument: argument, lockfileOverride: lockfile,
                                                      currentDirectory: context.workingDirectory))
    }

    /// Resolves the environment and writes its lockfile if the bytes differ.
    public func lock(_ environment: LoadedEnvironment, update: DebianUpdate? = nil) throws(StrataError) -> (Lockfile, Locker.Outcome) {
        try locker.lock(environment, update: update)
    }

    /// Why the lockfile does not match its inputs, or nil when it does.
    public func staleness(_ environment: LoadedEnvironment) throws(StrataError) -> String? {
        try locker.staleness(environment)
    }

    /// The lockfile to build and run with (re-locked when stale, unless frozen).
    public func lockfileForUse(_ environment: LoadedEnvironment) throws(StrataError) -> Lockfile {
        try locker.lockfileForUse(environment)
    }

    /// Fetches, verifies and unpacks what the lockfile pins and the store lacks.
    public func build(_ environment: LoadedEnvironment, lockfile: Lockfile,
                      options: BuildOptions = BuildOptions()) throws(StrataError) -> BuildResult {
        try builder.build(environment, lockfile: lockfile, options: options)
    }

    /// Builds what is missing, then runs the command in a new session on the snapshot;
    /// returns its exit status.
    public func run(_ environment: LoadedEnvironment, lockfile: Lockfile, options: RunOptions) throws(StrataError) -> Int32 {
        let built = try build(environment, lockfile: lockfile)
        for warning in built.warnings { context.note(warning) }
        return try sessions.run(environment, lockfile: lockfile, snapshot: built.snapshot, options: options)
    }
}

import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataSandbox
import StrataStore

/// How to start a session.
public struct RunOptions: Sendable {
    /// The command; nil runs the image's entrypoint+cmd, else the manifest's shell.
    public var argv: [String]?
    /// Keep the session (its upper dir) after the command ends.
    public var keep: Bool
    public var name: String?
    /// Prefer the manifest's `shell` (default `/bin/sh`) when `argv` is nil.
    public var shell: Bool
    /// Remove the session when it ends even when it is named (`--rm --name`).
    public var remove = false
    /// A terminal for the command: true even when stdin is not one (`-t`); nil when stdin
    /// and stdout both are.
    public var terminal: Bool?
    /// The command's output goes to the session's log (`strata logs`), not to this process
    /// (`strata run -d`'s background runner).
    public var logToSession = false
    /// Settings of this command only, over the session's manifest (`strata exec -e -w -u`).
    public var overlay: Manifest?
    /// A session of the project (`strata shell`, `strata run`): the project directory bound
    /// in and the caller as the user (`Sessions.enterProject`), unless `"project": false`.
    public var project = false
    /// `-w` was given: the project does not choose where the command starts.
    public var workdirGiven = false

    public init(argv: [String]? = nil, keep: Bool = false, name: String? = nil, shell: Bool = false) {
        self.argv = argv; self.keep = keep; self.name = name; self.shell = shell
    }
}

extension Sessions {
    /// Starts a session on `snapshot` (the lockfile's, built), runs the command in it, and
    /// returns its exit status (128+N when killed by signal N). The session is removed
    /// afterwards unless it is kept or named.
    public func run(_ environment: LoadedEnvironment, lockfile: Lockfile, snapshot: Digest,
                    options: RunOptions) throws(StrataError) -> Int32 {
        var spec = try sessionSpec(environment, lockfile: lockfile, options: options)
        do { spec.lowerDirs = Self.withoutRepeats(try mountedLowerDirs(lockfile, snapshot: snapshot)) } catch {
            throw .store(error)
        }
        // Everything that can be refused is settled before a session exists to clean up.
        let projectDirectory = options.project ? try self.projectDirectory(environment) : nil
        // In the project, the caller is the user unless the manifest or `-u` names one.
        try confine(&spec, environment, imageUser: projectDirectory == nil ? lockfile.imageDefaults?.user : nil)
        let project = try projectDirectory.map { (directory) throws(StrataError) in
            try enterProject(directory, &spec, environment, options: options)
        }
        let session: SessionRecord
        do {
            session = try store.createSession(
                snapshot: snapshot, name: options.name, environment: environment.paths.name,
                manifest: environment.paths.manifest,
                volumes: Self.volumeNames(environment.manifest) + (project?.homeVolume.map { [$0] } ?? []),
                durable: !options.remove && (options.keep || options.name != nil))
        } catch { throw .store(error) }
        // The record is the session's root now: gc keeps what it stands on without the lease.
        context.releaseLease()
        if let project {
            do { try installProject(project, &spec, session: session, environment: environment) } catch {
                discard(session.id)
                throw error
            }
        }
        spec.upperDir = session.upperPath
        spec.workDir = session.workPath
        spec.rootDir = session.rootPath
        // Recorded once the session is up, so that `strata exec` can join it.
        spec.initRecordPath = Self.initRecordPath(session)
        var log: Int32 = -1
        if options.logToSession {
            log = open(Self.logPath(session), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard log >= 0 else {
                let failure = StrataError.input(path: Self.logPath(session), reason: "cannot create the session's log: \(SystemError.text(errno))")
                discard(session.id)
                throw failure
            }
            spec.terminal = false
            spec.output = log
        }
        defer { if log >= 0 { close(log) } }
        let kept = !options.remove && (options.keep || options.name != nil)
        let outcome = runHoldingLock(session.id, spec, tidying: kept ? session : nil)
        if !kept { discard(session.id) }
        return try status(of: try outcome.get())
    }

    /// Runs the session with its lock held: the lock tells `Store.removeSession` (and
    /// `strata rm`) that it is in use. The caller removes the session either way.
    /// With `tidying`, the kept session loses its mount points before the lock goes.
    public func runHoldingLock(_ id: String, _ spec: SessionSpec, tidying: SessionRecord? = nil) -> Result<SessionExit, StrataError> {
        let outcome: Result<SessionExit, StrataError>
        do {
            let held = try store.lock("session-" + id)
            do { outcome = .success(try Sandbox.run(spec)) } catch { outcome = .failure(.sandbox(error)) }
            if let tidying { keepOnlyChanges(tidying, spec) }
            held.release()
        } catch {
            outcome = .failure(.store(error))
        }
        return outcome
    }

    /// A kept session's changes are what its commands did: the mount points its mounts made
    /// in the upper dir go (`Store.pruneMountPoints`). Said, not thrown: the command's status
    /// is what the caller reports, and the directories only make a diff noisier.
    func keepOnlyChanges(_ session: SessionRecord, _ spec: SessionSpec) {
        do { try store.pruneMountPoints(spec.mounts.map(\.target), session: session, lowerDirs: spec.lowerDirs) } catch {
            context.note("could not tidy session \(session.name ?? session.id)'s mount points: \(error)")
        }
    }

    /// The exit status, said when the command ran out of memory.
    func status(of exit: SessionExit) throws(StrataError) -> Int32 {
        if case .outOfMemory(let limit) = exit {
            context.note("the command was killed: out of memory (the environment's \"limits.memory\" is \(Self.byteCount(limit)))")
        }
        return exit.status
    }

    /// The lower dirs to mount, topmost first: a Debian base's layers as their flattened
    /// layer when the store has it (one lookup per path instead of one per package).
    func mountedLowerDirs(_ lockfile: Lockfile, snapshot: Digest) throws(StoreError) -> [String] {
        if case .debian(let debian) = lockfile.base {
            let flat = LayerKeys.flattened(debian.layerKeys)
            if store.hasLayer(flat) {
                // Above the base: the pinned layers, or what the snapshot recorded (`run` steps' layers).
                let above = lockfile.isFullyPinned
                    ? lockfile.pinnedLayers.map(\.diffID)
                    : Array(try store.snapshotLayers(snapshot).dropFirst(debian.layerKeys.count))
                return store.lowerDirs(forLayers: [flat] + above)
            }
        }
        return try store.lowerDirs(for: snapshot)
    }

    /// "2 GiB", "512 MiB": how a limit was most likely written.
    static func byteCount(_ bytes: UInt64) -> String {
        for (unit, shift) in [("TiB", UInt64(40)), ("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes >= (1 << shift) && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return "\(bytes) bytes"
    }

    /// overlayfs refuses a lower dir given twice (ELOOP). A layer that appears
    /// again higher in the stack covers every path of its lower copy with the
    /// same content, so keeping only the topmost occurrence mounts the same tree.
    public static func withoutRepeats(_ topmostFirst: [String]) -> [String] {
        var seen = Set<String>()
        return topmostFirst.filter { seen.insert($0).inserted }
    }
}

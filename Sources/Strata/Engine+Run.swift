import Glibc
import StrataModel
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

    public init(argv: [String]? = nil, keep: Bool = false, name: String? = nil, shell: Bool = false) {
        self.argv = argv; self.keep = keep; self.name = name; self.shell = shell
    }
}

extension Engine {
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Builds what is missing, starts a session on the snapshot, runs the command in
    /// it, and returns its exit status (128+N when killed by signal N). The session
    /// is removed afterwards unless it is kept or named.
    public func run(_ environment: LoadedEnvironment, lockfile: Lockfile, options: RunOptions) throws(StrataError) -> Int32 {
        let built = try build(environment, lockfile: lockfile)
        for warning in built.warnings { note(warning) }
        var spec = try sessionSpec(environment, lockfile: lockfile, options: options)
        do { spec.lowerDirs = Self.withoutRepeats(try mountedLowerDirs(lockfile, snapshot: built.snapshot)) } catch {
            throw .store(error)
        }
        // Everything that can be refused is settled before a session exists to clean up.
        try confine(&spec, environment, imageUser: lockfile.imageDefaults?.user)
        let session: SessionRecord
        do {
            session = try store.createSession(
                snapshot: built.snapshot, name: options.name, environment: environment.paths.name,
                manifest: environment.paths.manifest, volumes: Self.volumeNames(environment.manifest))
        }
        catch { throw .store(error) }
        spec.upperDir = session.upperPath
        spec.workDir = session.workPath
        spec.rootDir = session.rootPath
        // Recorded once the session is up, so that `strata exec` can join it.
        spec.initRecordPath = Self.initRecordPath(session)
        let outcome = runHoldingLock(session.id, spec)
        if !(options.keep || options.name != nil) { removeSession(session.id) }
        let exit = try outcome.get()
        if case .outOfMemory(let limit) = exit {
            note("the command was killed: out of memory (the environment's \"limits.memory\" is \(Self.byteCount(limit)))")
        }
        return exit.status
    }

    /// Runs the session with its lock held: the lock tells `removeSession` (and later
    /// `strata rm`) that it is in use. The caller removes the session either way.
    func runHoldingLock(_ id: String, _ spec: SessionSpec) -> Result<SessionExit, StrataError> {
        let outcome: Result<SessionExit, StrataError>
        do {
            let held = try store.lock("session-" + id)
            do { outcome = .success(try Sandbox.run(spec)) } catch { outcome = .failure(.sandbox(error)) }
            held.release()
        } catch {
            outcome = .failure(.store(error))
        }
        return outcome
    }

    /// The lower dirs to mount, topmost first: a Debian base's layers as their flattened
    /// layer when the store has it (one lookup per path instead of one per package).
    func mountedLowerDirs(_ lockfile: Lockfile, snapshot: Digest) throws(StoreError) -> [String] {
        if case .debian(let debian) = lockfile.base {
            let flat = Store.flattenedKey(of: debian.layerKeys)
            if store.hasLayer(flat) {
                return store.lowerDirs(forLayers: [flat] + lockfile.layers.map(\.diffID))
            }
        }
        return try store.lowerDirs(for: snapshot)
    }

    func removeSession(_ id: String) {
        do { try store.removeSession(id) } catch { note("could not remove session \(id): \(StrataError.store(error))") }
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
    static func withoutRepeats(_ topmostFirst: [String]) -> [String] {
        var seen = Set<String>()
        return topmostFirst.filter { seen.insert($0).inserted }
    }

    /// The session's command, environment, working directory and mounts: the
    /// manifest's settings over the base image's defaults over strata's defaults.
    func sessionSpec(_ environment: LoadedEnvironment, lockfile: Lockfile, options: RunOptions) throws(StrataError) -> SessionSpec {
        let manifest = environment.manifest
        var defaults = ImageDefaults()
        if case .image(_, _, let config) = lockfile.base { defaults = config }

        var variables = EnvironmentVariables(image: defaults.env, manifest: manifest.env)
        let hostname = manifest.hostname ?? "strata"
        if !variables.has("HOME") { variables.set("HOME", "/root") }
        variables.set("HOSTNAME", hostname)
        if options.shell, isatty(0) != 0, let term = getenv("TERM"), !variables.has("TERM") {
            variables.set("TERM", String(cString: term))
        }

        let imageCommand = (defaults.entrypoint ?? []) + (defaults.cmd ?? [])
        let argv: [String]
        if let given = options.argv, !given.isEmpty {
            argv = given
        } else if !options.shell, !imageCommand.isEmpty {
            argv = imageCommand
        } else {
            argv = manifest.shell ?? ["/bin/sh"]
        }

        var mounts: [SessionMount] = []
        for mount in manifest.mounts {
            switch mount {
            case .bind(let source, let target, let readOnly):
                let host = environment.paths.resolve(source)
                guard access(host, F_OK) == 0 else {
                    throw .input(path: host, reason: "the bind mount source for \(target) does not exist; create it or fix \"mounts\" in \(environment.paths.manifest)")
                }
                mounts.append(.bind(source: host, target: target, readOnly: readOnly))
            case .tmpfs(let target):
                mounts.append(.tmpfs(target: target))
            case .volume(let name, let target):
                mounts.append(volumeMount(name: name, target: target))
            }
        }
        return SessionSpec(
            lowerDirs: [], upperDir: "", workDir: "", rootDir: "",
            argv: argv, environment: variables.entries,
            workingDirectory: manifest.workdir ?? defaults.workingDir ?? "/",
            hostname: hostname, isolateNetwork: manifest.network == .none, mounts: mounts,
            // As `docker run -it` when stdin is a terminal; output to a file or pipe stays clean.
            terminal: isatty(0) != 0 && isatty(1) != 0, stderrTerminal: isatty(2) != 0)
    }
}

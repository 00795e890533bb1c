import Glibc
import StrataEnvironment
import StrataModel
import StrataSandbox
import StrataStore

/// Entering a kept session again: `strata exec` joins a running one, `strata shell
/// --session` joins a running one or starts a stopped one again on its kept changes.
extension Sessions {
    /// Where a session's sandbox records its running init (`RunningSession`).
    static func initRecordPath(_ session: SessionRecord) -> String { session.path + "/init.pid" }

    /// How long a session whose lock is held may take to record its init: the lock is
    /// taken just before the sandbox starts, the record written once the root is ready.
    static let startGraceSeconds = 5.0

    /// Runs `argv` in the running session `idOrName` (its name or id), as `docker exec`
    /// does, with the same user, environment, working directory and confinement its first
    /// command got from the manifest, but for what `overlay` sets (its variables, working
    /// directory and user: `docker exec -e -w -u`) and a terminal when `terminal` says.
    /// Returns the command's exit status (128+N for signal N).
    public func exec(session idOrName: String, argv: [String], overlay: Manifest? = nil, terminal: Bool? = nil,
                     startedSignal: Int32? = nil) throws(StrataError) -> Int32 {
        let session: SessionRecord
        do { session = try existing(idOrName) } catch { throw .store(error) }
        // The session's record keeps what it stands on: an exec open for hours holds gc off no longer.
        context.releaseLease()
        guard let running = try runningSession(session) else {
            throw .sessionNotRunning(idOrName)
        }
        var options = RunOptions(argv: argv)
        options.overlay = overlay
        options.terminal = terminal
        // As the session's first command: in the project, as the caller.
        options.project = true
        options.workdirGiven = overlay?.writtenFields.contains("workdir") ?? false
        return try join(running, session, options: options, startedSignal: startedSignal)
    }

    /// The manifest's shell in session `idOrName`: joined when the session is running,
    /// else in a new sandbox on the session's kept changes (its upper dir) over the
    /// snapshot it was made from, as `docker start -ai` does. Returns the shell's exit status.
    public func shell(session idOrName: String) throws(StrataError) -> Int32 {
        let session: SessionRecord
        do { session = try existing(idOrName) } catch { throw .store(error) }
        context.releaseLease()
        var options = RunOptions(argv: nil, keep: true, name: session.name, shell: true)
        options.project = true
        // The lock decides, not a look at it: two `shell --session` at once must not both start it.
        let probe: StoreLock?
        do { probe = try store.tryLock("session-" + session.id) } catch { throw .store(error) }
        guard let held = probe else {
            guard let running = try runningSession(session) else { throw .store(.sessionInUse(idOrName)) }
            return try join(running, session, options: options)
        }
        let spec: SessionSpec
        do { spec = try sessionSpec(for: session, options: options) } catch {
            held.release()
            throw error
        }
        let outcome: Result<SessionExit, StrataError>
        do { outcome = .success(try Sandbox.run(spec)) } catch { outcome = .failure(.sandbox(error)) }
        keepOnlyChanges(session, spec)
        held.release()
        return try status(of: try outcome.get())
    }

    /// The session's running init, waiting a little for one that is starting; nil when
    /// the session is not running.
    func runningSession(_ session: SessionRecord) throws(StrataError) -> RunningSession? {
        let path = Self.initRecordPath(session)
        var waited = 0.0
        while true {
            do {
                if let running = try RunningSession.read(recordPath: path) { return running }
            } catch {
                throw .sandbox(error)
            }
            if !store.isRunning(session) || waited >= Self.startGraceSeconds { return nil }
            usleep(20_000)
            waited += 0.02
        }
    }

    func join(_ running: RunningSession, _ session: SessionRecord, options: RunOptions, startedSignal: Int32? = nil) throws(StrataError) -> Int32 {
        var spec = try sessionSpec(for: session, options: options)
        spec.startedSignal = startedSignal
        // As `docker exec -t`: a terminal gets the caller's TERM unless the manifest sets one.
        if spec.terminal, !spec.environment.contains(where: { $0.hasPrefix("TERM=") }), let term = context.variables["TERM"] {
            spec.environment.append("TERM=" + term)
        }
        do { return try Sandbox.join(running, spec).status } catch { throw .sandbox(error) }
    }

    /// The spec `run` would build for this session's manifest, on this session's dirs
    /// and the snapshot it was made from (not whatever the lockfile pins now).
    func sessionSpec(for session: SessionRecord, options: RunOptions) throws(StrataError) -> SessionSpec {
        guard let manifest = session.manifest else {
            throw .input(path: session.path, reason: "the session records no manifest (an older strata made it), so it cannot be entered again; start a new one with `strata shell ENV`")
        }
        guard access(manifest, F_OK) == 0 else {
            throw .input(path: manifest, reason: "the manifest session \"\(session.name ?? session.id)\" was made from is gone; restore it to enter the session again")
        }
        var environment = try LoadedEnvironment(paths: EnvironmentPaths(argument: manifest, currentDirectory: context.workingDirectory))
        if let overlay = options.overlay { environment.manifest = environment.manifest.overriding(with: overlay) }
        guard let lockfile = try environment.paths.readLockfile() else {
            throw .input(path: environment.paths.lockfile, reason: "the lockfile of session \"\(session.name ?? session.id)\" is missing; run `strata lock \(manifest)`")
        }
        var spec = try sessionSpec(environment, lockfile: lockfile, options: options)
        do {
            let lowerDirs = store.builtSnapshot(of: lockfile) == session.snapshot
                ? try mountedLowerDirs(lockfile, snapshot: session.snapshot)
                : try store.lowerDirs(for: session.snapshot)
            spec.lowerDirs = Self.withoutRepeats(lowerDirs)
        } catch {
            throw .store(error)
        }
        let projectDirectory = options.project ? try self.projectDirectory(environment) : nil
        try confine(&spec, environment, imageUser: projectDirectory == nil ? lockfile.imageDefaults?.user : nil)
        if let projectDirectory {
            let project = try enterProject(projectDirectory, &spec, environment, options: options)
            try installProject(project, &spec, session: session, environment: environment)
        }
        spec.upperDir = session.upperPath
        spec.workDir = session.workPath
        spec.rootDir = session.rootPath
        spec.initRecordPath = Self.initRecordPath(session)
        return spec
    }
}

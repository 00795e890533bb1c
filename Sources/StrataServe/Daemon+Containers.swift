import Glibc
import NIOCore
import NIOPosix
import Strata
import StrataEnvironment
import StrataJSON
import StrataOS
import StrataSessions
import StrataStore

/// Containers' lives: create, start, stop, kill, remove, wait, resize. A container is a
/// kept session; a run is a `strata container-start` process holding it, its stdio the
/// daemon's pipes (or a terminal), as podman's conmon holds a container.
extension Daemon {
    /// `POST /containers/create`: the image resolved in the store, the session made (locked
    /// and built from the image), Docker's config kept beside it. Returns the id and warnings.
    func create(body: [String: JSONValue], name: String?) throws(APIError) -> (id: String, warnings: [String]) {
        let engine = try self.engine(lease: true)
        let given = try FieldReader().string(body, "Image") ?? ""
        guard !given.isEmpty else { throw APIError(.badRequest, "config.Image is empty: name the image to create the container from") }
        let reference: String
        let imageConfig: [String: JSONValue]
        let imageID: String
        do throws(StrataError) {
            reference = try engine.images.reference(Self.storeName(given))
            let inspected = try engine.images.inspect(reference)
            imageConfig = inspected["Config"]?.objectValue ?? [:]
            imageID = inspected["Id"]?.stringValue ?? ""
        } catch {
            if case .imageNotFound = error { throw .noSuchImage(Self.displayName(given)) }
            throw APIError(error)
        }
        let definition = try ContainerDefinition(body: body, storeReference: reference, imageConfig: imageConfig)
        if let name {
            guard Self.isContainerName(name) else {
                throw APIError(.badRequest, "Invalid container name (\(name)), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            }
        }
        let session: SessionRecord
        do { session = try engine.createContainer(manifest: definition.manifest, label: reference, name: name ?? generatedName(),
                                                    durable: !definition.autoRemove) } catch {
            throw APIError(error)
        }
        engine.context.releaseLease()
        let record = ContainerRecord(definition: definition, imageID: imageID, created: DockerTime.now())
        do { try record.write(session) } catch {
            engine.sessions.discard(session.id)
            throw error
        }
        events.emit("container", "create", id: session.id, attributes: ["image": given, "name": session.name ?? session.id])
        return (session.id, definition.warnings)
    }

    /// Docker's short names are Docker Hub's (`busybox` is `docker.io/library/busybox`);
    /// the store keeps what was pulled or loaded under the short name.
    static func storeName(_ name: String) -> String {
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"] where name.hasPrefix(prefix) {
            return String(name.dropFirst(prefix.count))
        }
        return name
    }

    /// The name as Docker says it in "No such image": with its tag.
    static func displayName(_ name: String) -> String {
        let last = name.split(separator: "/").last ?? ""
        return last.contains(":") || name.contains("@") ? name : name + ":latest"
    }

    static func isContainerName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func allowed(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
        }
        guard let first = bytes.first, allowed(first), bytes.count <= 128 else { return false }
        return bytes.dropFirst().allSatisfy { allowed($0) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }
    }

    /// `adjective_name`, as Docker names a container it was not given a name for.
    func generatedName() -> String {
        let adjectives = ["agile", "bold", "brave", "calm", "clever", "eager", "fond", "happy", "keen", "lucid",
                          "merry", "nifty", "quiet", "sharp", "swift", "tidy", "vivid", "wise", "young", "zen"]
        let names = ["babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "knuth", "lovelace", "noether",
                     "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak", "hamilton", "kepler", "lamport", "liskov"]
        return adjectives.randomElement()! + "_" + names.randomElement()! + "_" + FileSystem.randomHex(bytes: 2)
    }

    /// `POST /containers/{id}/start`. Returns false when it runs already (304). Returns
    /// once the command's execve succeeded; a command that could not start is the error
    /// `docker run` turns into 127 (not found), 126 (not executable) or 125.
    func start(_ session: SessionRecord) throws(APIError) -> Bool {
        if stopping.load(ordering: .relaxed) { throw APIError(.serviceUnavailable, "the daemon is shutting down") }
        let record = try ContainerRecord.read(session)
        guard !record.command.isEmpty else {
            throw APIError(.badRequest, "container \(session.name ?? session.id) was made by `strata run`, which keeps no command to start again; enter it with `strata shell --session \(session.name ?? session.id)`")
        }
        let live = container(session)
        let claimed = live.state.withLock { state -> Bool in
            guard state.run == nil, !state.starting else { return false }
            state.starting = true
            return true
        }
        guard claimed, !store.isRunning(session) else {
            if claimed { live.state.withLock { $0.starting = false } }
            return false
        }
        var arguments = ["--root", store.root]
        if record.tty { arguments.append("--tty") }
        arguments += [session.id, "--"] + record.command
        // Written before the runner exists: its end (`finishRun`) updates this, never the reverse.
        var state = ContainerRunState()
        state.startedAt = DockerTime.now()
        keep(state, of: session)
        let (_, started, message, stdinChannel) = try launch(
            live, arguments: arguments, tty: record.tty, openStdin: record.openStdin, stdinOnce: record.stdinOnce,
            what: "container \(session.id)") { [self] in finishRun(session, live, record: record) }
        guard started else {
            stdinChannel?.close(promise: nil)
            live.state.withLock { $0.startError = message }
            throw Self.startFailure(message, command: record.command)
        }
        live.began(stdin: stdinChannel)
        events.emit("container", "start", id: session.id, attributes: ["image": record.image, "name": session.name ?? session.id])
        return true
    }

    /// Starts a `strata container-start` runner (or `program`) with `arguments` on new stdio for `live`
    /// (already claimed: `starting` set), reads its outputs from now on, and returns once
    /// its command started or could not. `finished` runs once, when the runner has exited
    /// and its outputs are read to the end. Shared by container starts and exec starts.
    func launch(_ live: LiveContainer, arguments: [String], tty: Bool, openStdin: Bool, stdinOnce: Bool, what: String,
                program: [String] = ["container-start"], workingDirectory: String? = nil, environment: [String]? = nil,
                awaitStart: Bool = true,
                finished: @escaping @Sendable () -> Void) throws(APIError) -> (pid: Int32, started: Bool, message: String, stdin: Channel?) {
        let size = live.state.withLock { $0.size }
        let descriptors: ContainerDescriptors
        do { descriptors = try .make(tty: tty, openStdin: openStdin, size: size) } catch {
            live.state.withLock { $0.starting = false }
            throw APIError(.internalServerError, "cannot make the stdio of \(what): \(error)")
        }
        var runner = Subprocess(executable: configuration.runner, arguments: program + arguments,
                                environment: environment ?? configuration.runnerEnvironment)
        runner.workingDirectory = workingDirectory
        let pid: pid_t
        do { pid = try runner.start(descriptors: awaitStart ? descriptors.child : Array(descriptors.child.prefix(3))) } catch {
            descriptors.closeAll()
            live.state.withLock { $0.starting = false }
            throw APIError(.internalServerError, "cannot start the runner of \(what), \(configuration.runner): \(error.reason)")
        }
        descriptors.closeChildEnds()
        live.state.withLock { state in
            state.run = LiveContainer.Run(runnerPID: pid, tty: tty, stdinOnce: stdinOnce, stdin: nil,
                                          terminal: descriptors.terminal, openOutputs: descriptors.outputs.count, exitCode: nil)
            state.starting = false
        }
        // The outputs are read from now on; a run that ends early still ends once (`LiveContainer.finish`).
        let loop = group.next()
        var stdinChannel: Channel?
        for (index, (stream, fd)) in descriptors.outputs.enumerated() {
            let ttyInput = tty && index == 0 ? descriptors.stdin : nil
            let closed: @Sendable () -> Void = {
                if live.outputClosed() { finished() }
            }
            let bootstrap = NIOPipeBootstrap(group: loop).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutputForwarder(stream: stream, container: live, closed: closed))
                }
            }
            do {
                if let ttyInput {
                    stdinChannel = try bootstrap.takingOwnershipOfDescriptors(input: fd, output: ttyInput).wait()
                } else {
                    _ = try bootstrap.takingOwnershipOfDescriptor(input: fd).wait()
                }
            } catch {
                // Nothing reads it: the command would block on a full pipe, so it is stopped.
                log("\(what): cannot read its \(stream): \(error)")
                close(fd)
                kill(pid, SIGTERM)
                if live.outputClosed() { finished() }
            }
        }
        if !tty, let stdin = descriptors.stdin {
            do { stdinChannel = try NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(output: stdin).wait() } catch {
                log("\(what): cannot write its stdin: \(error)")
                close(stdin)
            }
        }
        // A plain strata command says nothing on the status pipe: it has started once spawned.
        let (started, message) = awaitStart ? descriptors.awaitStart() : (true, "")
        close(descriptors.status)
        do {
            try DetachedThread.start {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0, errno == EINTR {}
                let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                if live.exited(code) { finished() }
            }
        } catch {
            kill(pid, SIGKILL)
            throw APIError(.internalServerError, "cannot wait for the runner of \(what): \(error.reason)")
        }
        return (pid, started, message, stdinChannel)
    }

    /// Keeps how the run went; a state that cannot be written is said (inspect shows the
    /// last one written), not a reason to fail the run.
    func keep(_ state: ContainerRunState, of session: SessionRecord) {
        do { try state.write(session) } catch { log("container \(session.id): cannot keep its state: \(error)") }
    }

    /// The start error as Docker words it, so that `docker run` picks its exit status from it.
    static func startFailure(_ message: String, command: [String]) -> APIError {
        let program = command.first ?? ""
        if message.contains("No such file or directory") {
            return APIError(.badRequest, "failed to create task for container: exec: \"\(program)\": executable file not found in $PATH (\(message))")
        }
        if message.contains("Permission denied") || message.contains("Is a directory") || message.contains("Exec format error") {
            return APIError(.badRequest, "failed to create task for container: exec: \"\(program)\": permission denied (\(message))")
        }
        return APIError(.internalServerError, message.isEmpty ? "the container's runner ended before its command started" : message)
    }

    /// The run is over (its runner exited and its outputs are read to the end): the state
    /// is kept, waiters and attached clients are told, and an `AutoRemove` container goes.
    func finishRun(_ session: SessionRecord, _ live: LiveContainer, record: ContainerRecord) {
        pool.submit { [self] _ in
            let (code, startError) = live.state.withLock { state in
                defer { state.startError = nil }
                return (state.run?.exitCode ?? 0, state.startError)
            }
            var state = ContainerRunState.read(session)
            state.exitCode = code
            state.finishedAt = DockerTime.now()
            state.pid = 0
            state.error = startError ?? ""
            keep(state, of: session)
            let run = live.finish(code)
            if let terminal = run?.terminal, terminal >= 0 { close(terminal) }
            run?.stdin?.close(promise: nil)
            events.emit("container", "die", id: session.id, attributes: [
                "image": record.image, "name": session.name ?? session.id, "exitCode": String(code),
            ])
            if record.autoRemove {
                do throws(APIError) { try remove(session, force: false) } catch {
                    log("container \(session.id): could not remove it after it ended (AutoRemove): \(error.message)")
                }
            }
        }
    }

    /// `DELETE /containers/{id}`: a running one only with `force` (killed first, as Docker does).
    func remove(_ session: SessionRecord, force: Bool) throws(APIError) {
        let live = container(session)
        if store.isRunning(session) || live.isRunning {
            guard force else {
                throw APIError(.conflict, "cannot remove container \"/\(session.name ?? session.id)\": container is running: stop the container before removing or force remove")
            }
            _ = try signal(session, SIGKILL)
            var waited = 0
            while store.isRunning(session) || live.isRunning, waited < 1000 {
                usleep(10_000)
                waited += 1
            }
        }
        let engine = try self.engine()
        let exitCode = ContainerRunState.read(session).exitCode
        do { try engine.sessions.remove(session.id) } catch {
            if case .store(.noSuchSession) = error { throw .noSuchContainer(session.id) }
            throw APIError(error)
        }
        live.removed(exitCode)
        forget(session.id)
        events.emit("container", "destroy", id: session.id, attributes: ["name": session.name ?? session.id])
    }

    /// Sends `signal` to the container's command; false when it is not running.
    func signal(_ session: SessionRecord, _ signal: Int32) throws(APIError) -> Bool {
        let engine = try self.engine()
        do { return try engine.sessions.signal(session.id, signal) } catch { throw APIError(error) }
    }

    /// `POST /containers/{id}/stop`: SIGTERM, then SIGKILL after `seconds`. False when it
    /// was not running (304). Returns once the run is over.
    func stop(_ session: SessionRecord, seconds: Double) throws(APIError) -> Bool {
        let live = container(session)
        let stopped: Bool
        let engine = try self.engine()
        do { stopped = try engine.sessions.stop(session.id, seconds: seconds) } catch { throw APIError(error) }
        var waited = 0
        while live.isRunning, waited < 500 {
            usleep(10_000)
            waited += 1
        }
        if stopped { events.emit("container", "stop", id: session.id, attributes: ["name": session.name ?? session.id]) }
        return stopped
    }

    /// `POST /containers/{id}/resize` and `/exec/{id}/resize`: the terminal's new size (kept
    /// for a run that starts later), and SIGWINCH to the runner, whose relay reads it from
    /// its own terminal and passes it on.
    func resize(_ live: LiveContainer, rows: UInt16, columns: UInt16) {
        let run = live.state.withLock { state -> LiveContainer.Run? in
            state.size = (rows, columns)
            return state.run
        }
        guard let run, run.terminal >= 0 else { return }
        PseudoTerminal.resize(run.terminal, rows: rows, columns: columns)
        kill(run.runnerPID, SIGWINCH)
    }

    /// At start: `AutoRemove` containers a daemon stopped on its way out (or lost in a
    /// crash) before it could remove them go now, as dockerd removes them when it starts.
    func removeEndedAutoRemoveContainers() {
        let sessions: [SessionRecord]
        do { sessions = try store.listSessions() } catch {
            log("cannot list the containers: \(error)")
            return
        }
        for session in sessions where !store.isRunning(session) {
            do throws(APIError) {
                guard try ContainerRecord.read(session).autoRemove else { continue }
                try remove(session, force: false)
            } catch {
                log("container \(session.id): \(error.message)")
            }
        }
    }

    /// Signal names as `docker kill -s` takes them: `KILL`, `SIGKILL` or `9`.
    static func signalNumber(_ text: String) -> Int32? {
        if let number = Int32(text), number > 0, number < 65 { return number }
        let name = text.uppercased().hasPrefix("SIG") ? String(text.uppercased().dropFirst(3)) : text.uppercased()
        let names: [String: Int32] = [
            "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "KILL": SIGKILL, "USR1": SIGUSR1, "USR2": SIGUSR2,
            "TERM": SIGTERM, "CONT": SIGCONT, "STOP": SIGSTOP, "WINCH": SIGWINCH, "ALRM": SIGALRM, "PIPE": SIGPIPE,
        ]
        return names[name]
    }
}

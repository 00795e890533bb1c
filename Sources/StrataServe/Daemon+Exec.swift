import Glibc
import NIOCore
import StrataJSON
import StrataOS
import StrataStore
import Synchronization

/// One `docker exec`: made by `POST /containers/{id}/exec`, run by `POST /exec/{id}/start`
/// (a `strata container-start --exec` runner joining the container's session), its exit
/// code read by `GET /exec/{id}/json`.
final class ExecInstance: Sendable {
    let id: String
    let session: SessionRecord
    let command: [String]
    let tty: Bool
    let attachStdin: Bool, attachStdout: Bool, attachStderr: Bool
    let environment: [String]
    let workingDirectory: String?
    let user: String?
    let live: LiveContainer
    let outcome = Mutex<(started: Bool, running: Bool, exitCode: Int32?, pid: Int32)>((false, false, nil, 0))

    init(id: String, session: SessionRecord, body: [String: JSONValue]) throws(APIError) {
        let reader = FieldReader()
        guard let command = try reader.words(body, "Cmd"), !command.isEmpty else { throw APIError(.badRequest, "No exec command specified") }
        self.id = id
        self.session = session
        self.command = command
        tty = try reader.bool(body, "Tty") ?? false
        attachStdin = try reader.bool(body, "AttachStdin") ?? false
        attachStdout = try reader.bool(body, "AttachStdout") ?? false
        attachStderr = try reader.bool(body, "AttachStderr") ?? false
        environment = try reader.strings(body, "Env") ?? []
        workingDirectory = try reader.string(body, "WorkingDir").flatMap { $0.isEmpty ? nil : $0 }
        user = try reader.string(body, "User").flatMap { $0.isEmpty ? nil : $0 }
        if try reader.bool(body, "Privileged") == true {
            throw APIError(.badRequest, "strata runs no privileged execs; add the capabilities the command needs to the container")
        }
        live = LiveContainer(id: id, log: nil)
    }

    var json: JSONValue {
        let (_, running, exitCode, pid) = outcome.withLock { $0 }
        return .object([
            "ID": .string(id), "ContainerID": .string(session.id), "Running": .bool(running),
            "ExitCode": exitCode.map { .int(Int64($0)) } ?? .null, "Pid": .int(Int64(pid)),
            "OpenStdin": .bool(attachStdin), "OpenStdout": .bool(attachStdout), "OpenStderr": .bool(attachStderr),
            "CanRemove": .bool(false), "DetachKeys": .string(""),
            "ProcessConfig": .object([
                "tty": .bool(tty), "entrypoint": .string(command[0]), "arguments": .array(command.dropFirst().map(JSONValue.string)),
                "privileged": .bool(false), "user": .string(user ?? ""),
            ]),
        ])
    }
}

extension Daemon {
    /// `POST /containers/{id}/exec`: only into a running container (409 otherwise, as Docker).
    func createExec(_ session: SessionRecord, body: [String: JSONValue]) throws(APIError) -> String {
        guard store.isRunning(session) || container(session).isRunning else {
            throw APIError(.conflict, "container \(session.id) is not running")
        }
        let id = FileSystem.randomHex(bytes: 32)
        let instance = try ExecInstance(id: id, session: session, body: body)
        execs.withLock { $0[id] = instance }
        events.emit("container", "exec_create: " + instance.command.joined(separator: " "), id: session.id)
        return id
    }

    func exec(_ id: String) throws(APIError) -> ExecInstance {
        guard let instance = execs.withLock({ $0[id] }) else { throw .noSuchExec(id) }
        return instance
    }

    /// `POST /exec/{id}/start`: the connection taken over (unless `Detach`), output framed
    /// as the container's is, the exit code kept for inspect before the stream ends.
    func startExec(_ instance: ExecInstance, _ request: APIRequest, _ responder: Responder) throws(APIError) {
        let body = try request.jsonObject()
        let detach = try FieldReader().bool(body, "Detach") ?? false
        let claimed = instance.outcome.withLock { state -> Bool in
            guard !state.started else { return false }
            state.started = true
            state.running = true
            return true
        }
        guard claimed else { throw APIError(.conflict, "exec \(instance.id) has already run; create another") }
        guard store.isRunning(instance.session) || container(instance.session).isRunning else {
            instance.outcome.withLock { $0.running = false }
            throw APIError(.conflict, "container \(instance.session.id) is not running")
        }
        let live = instance.live
        var connection: RawConnection?
        if !detach {
            let upgrade = request.headers["Upgrade"].contains { $0.lowercased() == "tcp" }
            let multiplexed = !instance.tty
            do { connection = try responder.hijack(upgrade: upgrade, multiplexed: multiplexed).wait() } catch {
                log("exec \(instance.id): could not take the connection over: \(error)")
                return
            }
            let streams = Set([instance.attachStdout ? OutputStream.stdout : nil, instance.attachStderr ? .stderr : nil].compactMap { $0 })
            if let connection {
                live.subscribe(LiveContainer.Subscriber(
                    streams: streams,
                    deliver: { stream, buffer in
                        connection.write(multiplexed ? Self.frame(stream, buffer.readableBytesView) : Array(buffer.readableBytesView))
                    },
                    end: { connection.close() }))
                if instance.attachStdin {
                    connection.receive(input: { live.input($0) }, end: { live.inputEnded() })
                } else {
                    connection.receive(input: { _ in }, end: {})
                }
            }
        }
        var arguments = ["--root", store.root]
        if instance.tty { arguments.append("--tty") }
        arguments.append("--exec")
        for entry in instance.environment where entry.contains("=") { arguments += ["--env", entry] }
        if let directory = instance.workingDirectory { arguments += ["--workdir", directory] }
        if let user = instance.user { arguments += ["--user", user] }
        arguments += [instance.session.id, "--"] + instance.command
        live.state.withLock { $0.starting = true }
        let launched: (pid: Int32, started: Bool, message: String, stdin: Channel?)
        do {
            launched = try launch(live, arguments: arguments, tty: instance.tty, openStdin: instance.attachStdin,
                                  stdinOnce: true, what: "exec \(instance.id)") {
                let code = live.state.withLock { $0.run?.exitCode } ?? 0
                // Before the stream ends: the client asks for the exit code once its stream has.
                instance.outcome.withLock { state in
                    state.running = false
                    state.exitCode = code
                }
                if let run = live.finish(code) {
                    if run.terminal >= 0 { close(run.terminal) }
                    run.stdin?.close(promise: nil)
                }
            }
        } catch {
            instance.outcome.withLock { $0.running = false; $0.exitCode = 126 }
            connection?.write(Array((error.message + "\r\n").utf8))
            connection?.close()
            return
        }
        instance.outcome.withLock { $0.pid = launched.pid }
        if !launched.started {
            let failure = Self.startFailure(launched.message, command: instance.command)
            // Docker writes the start error into the stream; the exit code (126/127) is the runner's.
            connection?.write(instance.tty ? Array((failure.message + "\r\n").utf8) : Self.frame(.stderr, Array((failure.message + "\n").utf8)))
        }
        live.began(stdin: launched.stdin)
        if detach { responder.send(.ok) }
    }
}

import Glibc
import NIOCore
import Strata
import StrataEnvironment
import StrataJSON
import StrataLock
import StrataModel
import StrataOS
import Synchronization

/// strata's own endpoints beside Docker's (`/strata/…`, described by `/strata/openapi.json`):
/// environments locked, built and run from a manifest, and the CLI itself, which is how
/// `strata` with `STRATA_HOST` set gives exactly the daemonless results.
extension Daemon {
    /// The environment a request names: `{"path": "/abs/envs/app.json"}` (its project's
    /// files and lockfile beside it, as the CLI uses them), or `{"manifest": {…}, "name":
    /// "app"}` kept in the store by its content (paths in it are then best absolute).
    func environmentPath(_ body: [String: JSONValue]) throws(APIError) -> String {
        let reader = FieldReader()
        if let path = try reader.string(body, "path") {
            guard path.hasPrefix("/") else { throw APIError(.badRequest, "path must be absolute: the daemon has no working directory of yours") }
            return path
        }
        guard let manifest = try reader.object(body, "manifest") else {
            throw APIError(.badRequest, "give the environment: \"path\" (a manifest file) or \"manifest\" (its JSON)")
        }
        let name = try reader.string(body, "name") ?? "environment"
        guard Self.isContainerName(name) else { throw APIError(.badRequest, "name \(name) is not [A-Za-z0-9][A-Za-z0-9_.-]*") }
        let engine = try self.engine()
        do { return try engine.keepManifest(manifest, in: store.root + "/environments/envs", name: name) } catch {
            throw APIError(error)
        }
    }

    /// `POST /strata/environments/lock`: resolves and writes the lockfile; answers with it.
    func lockEnvironment(_ body: [String: JSONValue]) throws(APIError) -> JSONValue {
        let path = try environmentPath(body)
        let update = try FieldReader().bool(body, "update") == true ? DebianUpdate.all : nil
        let engine = try self.engine(lease: true)
        let environment: LoadedEnvironment
        let lockfile: Lockfile
        let outcome: Locker.Outcome
        do throws(StrataError) {
            environment = try engine.load(path)
            (lockfile, outcome) = try engine.lock(environment, update: update)
        } catch {
            throw APIError(error)
        }
        let document: JSONValue
        do { document = try JSON.parse(lockfile.encoded()) } catch {
            throw APIError(.internalServerError, "the lockfile of \(path) did not encode as JSON: \(error)")
        }
        return .object(["manifest": .string(path), "lockfile": .string(environment.paths.lockfile),
                        "written": .bool(outcome == .written), "lock": document])
    }

    /// `POST /strata/environments/build`: what the lockfile pins, fetched and unpacked;
    /// answers with the snapshot.
    func buildEnvironment(_ body: [String: JSONValue]) throws(APIError) -> JSONValue {
        let path = try environmentPath(body)
        let engine = try self.engine(lease: true)
        do throws(StrataError) {
            let environment = try engine.load(path)
            let lockfile = try engine.lockfileForUse(environment)
            let built = try engine.build(environment, lockfile: lockfile)
            return .object(["manifest": .string(path), "lockfile": .string(environment.paths.lockfile),
                            "snapshot": .string(built.snapshot.description), "warnings": .array(built.warnings.map(JSONValue.string))])
        } catch {
            throw APIError(error)
        }
    }

    /// `POST /strata/environments/run`: `strata run` of the environment with `command`,
    /// its output as JSON lines (`{"stream": "stdout", "data": …}`), then `{"exitCode": N}`.
    func runEnvironment(_ body: [String: JSONValue], _ responder: Responder) throws(APIError) {
        let path = try environmentPath(body)
        let reader = FieldReader()
        let command = try reader.strings(body, "command") ?? []
        let input = try reader.string(body, "stdin")
        let live = LiveContainer(id: FileSystem.randomHex(bytes: 8), log: nil)
        let stream = responder.startStream(contentType: "application/x-ndjson")
        live.subscribe(LiveContainer.Subscriber(
            streams: [.stdout, .stderr],
            deliver: { kind, buffer in
                stream.write(json: .object(["stream": .string(kind == .stderr ? "stderr" : "stdout"),
                                            "data": .string(String(decoding: buffer.readableBytesView, as: UTF8.self))]))
            },
            end: {}))
        live.state.withLock { $0.starting = true }
        let arguments = ["run", "--root", store.root, "--quiet", path] + (command.isEmpty ? [] : ["--"] + command)
        let launched: (pid: Int32, started: Bool, message: String, stdin: Channel?)
        do {
            launched = try launch(live, arguments: arguments, tty: false, openStdin: input != nil, stdinOnce: true,
                                  what: "strata run \(path)", program: [], workingDirectory: FileSystem.parent(of: path),
                                  awaitStart: false) {
                let code = live.state.withLock { $0.run?.exitCode } ?? 0
                _ = live.finish(code)
                stream.write(json: .object(["exitCode": .int(Int64(code))]))
                stream.finish()
            }
        } catch {
            stream.write(json: .object(["error": .string(error.message)]))
            stream.finish()
            return
        }
        live.began(stdin: launched.stdin)
        if let input {
            var buffer = ByteBufferAllocator().buffer(capacity: input.utf8.count)
            buffer.writeString(input)
            live.input(buffer)
            live.inputEnded()
        }
    }

    /// `POST /strata/cli` (the connection taken over): `strata ARGS` run by the daemon in
    /// the caller's directory, with the caller's variables, its stdio relayed, output in
    /// stdcopy frames, and last a frame of stream 3 holding `{"ExitCode": N}`.
    func forwardCLI(_ request: APIRequest, _ responder: Responder) throws(APIError) {
        let body = try request.jsonObject()
        let reader = FieldReader()
        guard let arguments = try reader.strings(body, "Args"), !arguments.isEmpty else { throw APIError(.badRequest, "Args names the strata command") }
        guard !["serve", "container-start"].contains(arguments[0]) else {
            throw APIError(.badRequest, "strata \(arguments[0]) does not run through a daemon")
        }
        let directory = try reader.string(body, "WorkingDir") ?? "/"
        guard directory.hasPrefix("/"), FileSystem.exists(directory) else {
            throw APIError(.badRequest, "WorkingDir \(directory) is not a directory the daemon can see")
        }
        let tty = try reader.bool(body, "Tty") ?? false
        // The caller's variables, but the daemon's store: that is the point of the daemon.
        var environment = (try reader.strings(body, "Env") ?? []).filter { entry in
            !["STRATA_ROOT=", "STRATA_HOST=", "STRATA_FETCH="].contains { entry.hasPrefix($0) }
        }
        environment.append("STRATA_ROOT=" + store.root)
        if let fetch = configuration.fetchTool { environment.append("STRATA_FETCH=" + fetch) }
        if !environment.contains(where: { $0.hasPrefix("PATH=") }) { environment.append("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") }
        let live = LiveContainer(id: FileSystem.randomHex(bytes: 8), log: nil)
        if let rows = try reader.int(body, "Rows"), let columns = try reader.int(body, "Columns"), rows > 0, columns > 0 {
            live.state.withLock { $0.size = (UInt16(clamping: rows), UInt16(clamping: columns)) }
        }
        let upgrade = request.headers["Upgrade"].contains { $0.lowercased() == "tcp" }
        let connection: RawConnection
        do { connection = try responder.hijack(upgrade: upgrade, multiplexed: true).wait() } catch {
            log("strata \(arguments[0]): could not take the connection over: \(error)")
            return
        }
        live.subscribe(LiveContainer.Subscriber(
            streams: [.stdout, .stderr],
            deliver: { kind, buffer in connection.write(Self.frame(kind, buffer.readableBytesView)) },
            end: {}))
        // The client frames what it sends too: stream 0 is stdin, stream 4 a new terminal size.
        let frames = FrameBuffer()
        connection.receive(input: { [self] buffer in
            for (stream, payload) in frames.take(buffer) {
                switch stream {
                case 0:
                    live.input(ByteBufferAllocator().buffer(bytes: payload))
                case 4:
                    // A size that does not parse changes nothing; the command goes on at the old one.
                    guard let size = try? JSON.parse(payload), let rows = size["Rows"]?.intValue, let columns = size["Columns"]?.intValue else { continue }
                    resize(live, rows: UInt16(clamping: rows), columns: UInt16(clamping: columns))
                default: continue
                }
            }
        }, end: { live.inputEnded() })
        live.state.withLock { $0.starting = true }
        let launched: (pid: Int32, started: Bool, message: String, stdin: Channel?)
        do {
            launched = try launch(live, arguments: arguments, tty: tty, openStdin: true, stdinOnce: true, what: "strata \(arguments[0])",
                                  program: [], workingDirectory: directory, environment: environment, awaitStart: false) {
                let code = live.state.withLock { $0.run?.exitCode } ?? 0
                if let run = live.finish(code), run.terminal >= 0 { close(run.terminal) }
                connection.write(Self.exitFrame(code))
                connection.close()
            }
        } catch {
            connection.write(Self.frame(.stderr, Array(("strata: " + error.message + "\n").utf8)))
            connection.write(Self.exitFrame(125))
            connection.close()
            return
        }
        live.began(stdin: launched.stdin)
        let clientGone = connection.channel.closeFuture
        clientGone.whenComplete { _ in
            // A caller that went away takes its command with it, as a closed terminal would.
            if live.isRunning { kill(launched.pid, SIGHUP) }
        }
    }

    /// The last frame of a forwarded command: stream 3, `{"ExitCode": N}`.
    static func exitFrame(_ code: Int32) -> [UInt8] {
        frame(3, JSON.compactBytes(.object(["ExitCode": .int(Int64(code))])))
    }

}

/// stdcopy frames as they arrive in pieces: whole ones out, the rest kept for the next piece.
final class FrameBuffer: Sendable {
    private let pending = Mutex<[UInt8]>([])

    func take(_ buffer: ByteBuffer) -> [(UInt8, [UInt8])] {
        pending.withLock { bytes in
            bytes += buffer.readableBytesView
            var frames: [(UInt8, [UInt8])] = []
            var index = 0
            while bytes.count - index >= 8 {
                let size = bytes[(index + 4)..<(index + 8)].reduce(0) { $0 << 8 | Int($1) }
                guard bytes.count - index - 8 >= size else { break }
                frames.append((bytes[index], Array(bytes[(index + 8)..<(index + 8 + size)])))
                index += 8 + size
            }
            bytes.removeFirst(index)
            return frames
        }
    }
}

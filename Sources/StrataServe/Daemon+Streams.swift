import NIOCore
import StrataJSON
import StrataStore

/// A container's output on the wire: attach (the connection taken over), logs (a
/// chunked body) and wait (a head now, the status when it comes).
extension Daemon {
    /// stdcopy's frame: the stream, three zero bytes, the length big-endian, then the bytes.
    /// What clients demultiplex when the container has no terminal.
    static func frame(_ stream: OutputStream, _ bytes: some Collection<UInt8>) -> [UInt8] { frame(stream.rawValue, bytes) }

    static func frame(_ stream: UInt8, _ bytes: some Collection<UInt8>) -> [UInt8] {
        let size = UInt32(truncatingIfNeeded: bytes.count)
        return [stream, 0, 0, 0, UInt8(size >> 24), UInt8((size >> 16) & 0xff), UInt8((size >> 8) & 0xff), UInt8(size & 0xff)] + bytes
    }

    /// The streams a request asks for (`stdout=1`, `stderr=1`).
    static func requestedStreams(_ request: APIRequest) -> Set<OutputStream> {
        var streams = Set<OutputStream>()
        if request.flag("stdout") { streams.insert(.stdout) }
        if request.flag("stderr") { streams.insert(.stderr) }
        return streams
    }

    /// `POST /containers/{id}/attach`: output from now on (and the log first with
    /// `logs`), stdin to the container with `stdin`. Attaching before the start loses
    /// nothing: the subscription stands until the next run ends.
    func attach(_ session: SessionRecord, _ request: APIRequest, _ responder: Responder) throws(APIError) {
        let record = try ContainerRecord.read(session)
        let live = container(session)
        let streams = Self.requestedStreams(request)
        let stream = request.flag("stream"), logs = request.flag("logs"), stdin = request.flag("stdin")
        let upgrade = request.headers["Upgrade"].contains { $0.lowercased() == "tcp" }
        let multiplexed = !record.tty
        let connection: RawConnection
        do { connection = try responder.hijack(upgrade: upgrade, multiplexed: multiplexed).wait() } catch {
            log("attach \(session.id): could not take the connection over: \(error)")
            return
        }
        let send: @Sendable (OutputStream, [UInt8]) -> Void = { stream, bytes in
            connection.write(multiplexed ? Self.frame(stream, bytes) : bytes)
        }
        let history: () -> Void = {
            guard logs else { return }
            for record in (live.log?.records().records ?? []) {
                guard let kind = OutputStream(rawValue: record.stream), streams.contains(kind) else { continue }
                send(kind, record.bytes)
            }
        }
        guard stream else {
            live.state.withLock { _ in history() }
            connection.close()
            return
        }
        let key = live.subscribe(LiveContainer.Subscriber(
            streams: streams,
            deliver: { stream, buffer in send(stream, Array(buffer.readableBytesView)) },
            end: { connection.close() }), history: history)
        connection.channel.closeFuture.whenComplete { _ in live.unsubscribe(key) }
        if stdin {
            connection.receive(input: { live.input($0) }, end: { live.inputEnded() })
        } else {
            connection.receive(input: { _ in }, end: {})
        }
    }

    /// `GET /containers/{id}/logs`: what the log holds (`tail` lines of it), then, with
    /// `follow`, what comes until the run ends.
    func logs(_ session: SessionRecord, _ request: APIRequest, _ responder: Responder) throws(APIError) {
        let record = try ContainerRecord.read(session)
        let live = container(session)
        let streams = Self.requestedStreams(request)
        guard !streams.isEmpty else { throw APIError(.badRequest, "Bad parameters: you must choose at least one stream") }
        let timestamps = request.flag("timestamps")
        let tail = request.parameter("tail").flatMap { $0 == "all" ? nil : Int($0) }
        let multiplexed = !record.tty
        // API 1.42 and later name the framing; older clients read the raw type either way.
        let body = responder.startStream(contentType: multiplexed ? "application/vnd.docker.multiplexed-stream" : "application/vnd.docker.raw-stream")
        let render: @Sendable (OutputStream, Int64, [UInt8]) -> [UInt8] = { stream, time, bytes in
            let line = timestamps ? Array((DockerTime.format(time) + " ").utf8) + bytes : bytes
            return multiplexed ? Self.frame(stream, line) : line
        }
        let history: () -> Void = {
            var records = (live.log?.records().records ?? []).filter { OutputStream(rawValue: $0.stream).map(streams.contains) ?? false }
            if let tail { records = Array(records.suffix(max(0, tail))) }
            var bytes: [UInt8] = []
            for record in records { bytes += render(OutputStream(rawValue: record.stream) ?? .stdout, record.time, record.bytes) }
            body.write(bytes)
        }
        guard request.flag("follow"), live.isRunning || store.isRunning(session) else {
            live.state.withLock { _ in history() }
            body.finish()
            return
        }
        let key = live.subscribe(LiveContainer.Subscriber(
            streams: streams,
            deliver: { stream, buffer in body.write(render(stream, DockerTime.now(), Array(buffer.readableBytesView))) },
            end: { body.finish() }), history: history)
        body.onClose { live.unsubscribe(key) }
        // A run that ended between the check and the subscription has no end left to send.
        if !live.isRunning && !store.isRunning(session) {
            live.unsubscribe(key)
            body.finish()
        }
    }

    /// `POST /containers/{id}/wait`: the head at once (clients wait on it before they
    /// start the container), `{"StatusCode": N}` when `condition` is met.
    func wait(_ session: SessionRecord, _ request: APIRequest, _ responder: Responder) throws(APIError) {
        let text = request.parameter("condition") ?? "not-running"
        guard let condition = LiveContainer.WaitCondition(rawValue: text.isEmpty ? "not-running" : text) else {
            throw APIError(.badRequest, "invalid condition: \"\(text)\": give not-running, next-exit or removed")
        }
        let live = container(session)
        let body = responder.startStream(contentType: "application/json")
        let answer: @Sendable (Int32) -> Void = { code in
            body.write(json: .object(["StatusCode": .int(Int64(code)), "Error": .null]))
            body.finish()
        }
        if condition == .notRunning && !live.isRunning && !store.isRunning(session) {
            answer(ContainerRunState.read(session).exitCode)
            return
        }
        live.wait(condition, answer)
    }
}

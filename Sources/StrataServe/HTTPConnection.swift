import NIOCore
import Synchronization
import NIOHTTP1
import StrataJSON

/// Reads each request of a connection whole and hands it to the router; everything the
/// route sends back goes through its `Responder`.
final class APIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Bodies above this are refused (413): the endpoints take small JSON documents.
    static let bodyLimit = 16 << 20

    private let router: Router
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(router: Router) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(let buffer):
            if body.count + buffer.readableBytes > Self.bodyLimit { tooLarge = true } else { body += buffer.readableBytesView }
        case .end:
            guard let head else { return }
            self.head = nil
            let responder = Responder(channel: context.channel, keepAlive: head.isKeepAlive, method: head.method)
            if tooLarge {
                responder.fail(APIError(.payloadTooLarge, "the request body is larger than \(Self.bodyLimit >> 20) MiB"))
                return
            }
            guard let request = APIRequest(head: head, body: body) else {
                responder.fail(APIError(.badRequest, "client version in \(head.uri) is not supported: this server speaks API 1.24 to 1.50"))
                return
            }
            body = []
            router.dispatch(request, responder)
        }
    }
}

/// What a route answers through: a whole response, a streamed one, or the connection
/// itself (attach, exec). Safe to use from any thread: everything goes to the channel.
final class Responder: Sendable {
    let channel: Channel
    let keepAlive: Bool
    let method: HTTPMethod

    init(channel: Channel, keepAlive: Bool, method: HTTPMethod) {
        self.channel = channel; self.keepAlive = keepAlive; self.method = method
    }

    /// The headers Docker sends on every response.
    static func standardHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Api-Version", value: EngineAPI.version)
        headers.add(name: "Docker-Experimental", value: "false")
        headers.add(name: "Ostype", value: "linux")
        headers.add(name: "Server", value: "strata/\(EngineAPI.strataVersion) (linux)")
        return headers
    }

    func send(_ status: HTTPResponseStatus, json: JSONValue) {
        send(status, contentType: "application/json", body: JSON.compactBytes(json) + [0x0a])
    }

    func send(_ status: HTTPResponseStatus, contentType: String? = nil, body: [UInt8] = [], extraHeaders: [(String, String)] = []) {
        var headers = Self.standardHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        let noBody = status == .noContent || status == .notModified
        if !noBody { headers.add(name: "Content-Length", value: String(body.count)) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        let channel = self.channel
        let keepAlive = self.keepAlive
        let bodyBuffer = noBody || method == .HEAD || body.isEmpty ? nil : channel.allocator.buffer(bytes: body)
        channel.eventLoop.execute {
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            if let bodyBuffer { channel.write(HTTPServerResponsePart.body(.byteBuffer(bodyBuffer)), promise: nil) }
            let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
        }
    }

    func fail(_ error: APIError) {
        send(error.status, json: .object(["message": .string(error.message)]))
    }

    /// Sends the head now (flushed: clients wait on it, as `docker run` does on `wait`)
    /// and returns the stream the body goes to, chunked.
    func startStream(_ status: HTTPResponseStatus = .ok, contentType: String) -> ResponseStream {
        var headers = Self.standardHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Transfer-Encoding", value: "chunked")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        channel.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
        return ResponseStream(channel: channel, keepAlive: keepAlive)
    }

    /// Takes the connection over after the response head, as Docker does for attach and
    /// exec: `101 UPGRADED` when the client asked (`Upgrade: tcp`), else `200 OK`, then
    /// raw bytes both ways. `multiplexed` says which framing the client is to expect.
    func hijack(upgrade: Bool, multiplexed: Bool) -> EventLoopFuture<RawConnection> {
        let channel = self.channel
        return channel.eventLoop.submit { () throws -> RawConnection in
            let pipeline = channel.pipeline.syncOperations
            let connection = RawConnection(channel: channel)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(RawStreamHandler(connection: connection), position: .after(decoder))
            // NIO's encoder would make a 200 without a length chunked; the stream that
            // follows is raw, so the head is written as bytes once the HTTP handlers are gone.
            _ = pipeline.removeHandler(try pipeline.handler(type: HTTPResponseEncoder.self))
            _ = pipeline.removeHandler(try pipeline.handler(type: HTTPServerPipelineHandler.self))
            _ = pipeline.removeHandler(try pipeline.handler(type: HTTPServerProtocolErrorHandler.self))
            _ = pipeline.removeHandler(try pipeline.handler(type: APIHandler.self))
            var head = upgrade ? "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" : "HTTP/1.1 200 OK\r\n"
            head += "Content-Type: application/vnd.docker.\(multiplexed ? "multiplexed" : "raw")-stream\r\n"
            for (name, value) in Self.standardHeaders() { head += "\(name): \(value)\r\n" }
            head += "\r\n"
            channel.writeAndFlush(channel.allocator.buffer(string: head), promise: nil)
            // Last: bytes the client sent after its request (stdin) are passed on to the raw handler.
            _ = pipeline.removeHandler(decoder)
            return connection
        }
    }
}

/// A chunked response body, written as it comes (`/events`, pull progress, `logs -f`, `wait`).
final class ResponseStream: Sendable {
    let channel: Channel
    let keepAlive: Bool
    /// Ended: what comes later (a last chunk racing the end, a second end) is dropped, or it
    /// would be read as the start of the next response on a kept-alive connection.
    private let finished = Atomic<Bool>(false)

    init(channel: Channel, keepAlive: Bool) { self.channel = channel; self.keepAlive = keepAlive }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, !finished.load(ordering: .acquiring) else { return }
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))), promise: nil)
    }

    func write(json: JSONValue) { write(JSON.compactBytes(json) + [0x0a]) }

    func finish() {
        guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let channel = self.channel
        let keepAlive = self.keepAlive
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// Runs `action` once the client has gone (it closed the connection).
    func onClose(_ action: @escaping @Sendable () -> Void) { channel.closeFuture.whenComplete { _ in action() } }
}

/// The connection of an attach or exec once it is raw: what the client sends comes to
/// `onInput` (and `onInputEnd` when it half-closes); `write` sends, `close` ends it.
final class RawConnection: Sendable {
    let channel: Channel
    private let callbacks = Mutex<(input: (@Sendable (ByteBuffer) -> Void)?, end: (@Sendable () -> Void)?, pending: [ByteBuffer], ended: Bool)>(
        (nil, nil, [], false))

    init(channel: Channel) { self.channel = channel }

    /// Sets what receives the client's bytes; bytes that came before are handed over first.
    func receive(input: @escaping @Sendable (ByteBuffer) -> Void, end: @escaping @Sendable () -> Void) {
        let (pending, ended) = callbacks.withLock { state in
            state.input = input
            state.end = end
            defer { state.pending = [] }
            return (state.pending, state.ended)
        }
        for buffer in pending { input(buffer) }
        if ended { end() }
    }

    func received(_ buffer: ByteBuffer) {
        let input = callbacks.withLock { state -> (@Sendable (ByteBuffer) -> Void)? in
            if state.input == nil { state.pending.append(buffer) }
            return state.input
        }
        input?(buffer)
    }

    func inputEnded() {
        let end = callbacks.withLock { state -> (@Sendable () -> Void)? in
            state.ended = true
            return state.end
        }
        end?()
    }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    func write(_ buffer: ByteBuffer) { channel.writeAndFlush(buffer, promise: nil) }

    /// Closes once everything written has gone out.
    func close() {
        let channel = self.channel
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The inbound end of a hijacked connection.
final class RawStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let connection: RawConnection

    init(connection: RawConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { connection.inputEnded() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.inputEnded()
        context.fireChannelInactive()
    }
}

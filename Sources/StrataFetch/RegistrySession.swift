import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOSSL
import StrataJSON
import StrataModel
import StrataRegistry
import Synchronization

/// One conversation with one registry (the OCI distribution API), for one image: where it
/// answers (`https://`, or `http://` for an insecure registry that does not speak TLS), the
/// `Authorization` it last accepted, and the requests, each answered 401 authenticated
/// again and each answered 429 sent again after its `Retry-After`.
///
/// `connect()` first: it probes `/v2/`, picks the scheme, and gets a token for every scope
/// the session needs at once (a push needs `pull,push` on its repository and `pull` on
/// those it mounts from), so no big body is ever sent only to be refused with a 401.
public final class RegistrySession: Sendable {
    public let endpoint: RegistryEndpoint
    /// What errors are about: `HOST/REPO`.
    public let name: String
    /// `repository:NAME:ACTIONS`, as the token server is asked.
    public let scopes: [String]
    let client: HTTPClient
    private let state = Mutex<(base: String, authorization: String?)>(("", nil))

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    /// Makes the request's body again for each time it is sent.
    public typealias Body = @Sendable () -> HTTPClientRequest.Body

    /// `https://` or `http://` and the host, once `connect()` chose.
    public var base: String { state.withLock { $0.base } }
    var authorization: String? { state.withLock { $0.authorization } }

    /// A session of its own HTTP client, trusting the endpoint's certificate authorities
    /// (or nothing at all, when TLS is not verified); `close()` shuts it down.
    public init(endpoint: RegistryEndpoint, repository: String, scopes: [String]) throws(FetchError) {
        self.endpoint = endpoint
        self.name = endpoint.host + "/" + repository
        self.scopes = scopes
        var tls = TLSConfiguration.makeClientConfiguration()
        if !endpoint.verifiesTLS {
            tls.certificateVerification = .none
        } else {
            let authorities = endpoint.certificateAuthorities
            if !authorities.isEmpty { tls.additionalTrustRoots = authorities.map { .file($0) } }
        }
        if let certificate = endpoint.clientCertificate, let key = endpoint.clientKey {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw .registry(path: name, message: "cannot use the client certificate \(certificate) for \(endpoint.host): \(error)")
            }
        }
        var configuration = Fetcher.configuration()
        configuration.tlsConfiguration = tls
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func close() {
        try? client.syncShutdown()  // nothing is left to hear about: every request has ended
    }

    /// Probes `/v2/` (over HTTPS; for an insecure registry, over HTTP when HTTPS fails) and
    /// authenticates as its challenge asks. Afterwards every request carries what it accepted.
    public func connect() async throws(FetchError) {
        var candidates = ["https://" + endpoint.host]
        if endpoint.insecure { candidates.append("http://" + endpoint.host) }
        var lastFailure: FetchError?
        for candidate in candidates {
            state.withLock { $0.base = candidate }
            var response: Response
            do { response = try await perform(.GET, candidate + "/v2/", headers: [], body: nil, limit: 64 << 10, authorization: nil) } catch {
                lastFailure = error
                continue
            }
            var waits = 0
            while response.status == 429, waits < 5 {
                waits += 1
                await FetchExecutor.sleep(seconds: Fetcher.retryAfter(response.headers.first(name: "Retry-After")))
                response = try await perform(.GET, candidate + "/v2/", headers: [], body: nil, limit: 64 << 10, authorization: nil)
            }
            switch response.status {
            case 200: return
            case 401:
                guard let challenge = response.headers.first(name: "WWW-Authenticate") else {
                    throw .registry(path: name, message: "\(candidate) answered 401 to /v2/ without saying how to authenticate")
                }
                let answer = try await authenticate(challenge)
                state.withLock { $0.authorization = answer }
                return
            case 404:
                throw .registry(path: name, message: "\(candidate) is not a registry (it answered 404 to /v2/); check the host and port")
            default:
                throw .registry(path: name, message: "\(candidate) answered HTTP \(response.status) to /v2/\(Self.detail(response.body))")
            }
        }
        throw lastFailure ?? .registry(path: name, message: "cannot reach the registry \(endpoint.host)")
    }

    /// Asks for a new token (or sends the credentials again), as the registry's challenge to
    /// a request without one says: what a layer download refused with 401 (an expired token) needs.
    public func reauthenticate() async throws(FetchError) {
        let probe = try await perform(.GET, base + "/v2/", headers: [], body: nil, limit: 64 << 10, authorization: nil)
        guard probe.status == 401, let challenge = probe.headers.first(name: "WWW-Authenticate") else { return }
        let answer = try await authenticate(challenge)
        state.withLock { $0.authorization = answer }
    }

    /// `URL` as this session's base resolves it: a path (`/v2/…`, as upload `Location`s often
    /// are) below the registry, an absolute URL as it is.
    public func url(_ location: String) -> String {
        location.hasPrefix("http://") || location.hasPrefix("https://") ? location : base + (location.hasPrefix("/") ? "" : "/") + location
    }

    /// Sends a request: answered 401, it authenticates again (the token expired) and sends it
    /// once more; answered 429, it waits as `Retry-After` says, a few times.
    public func send(_ method: HTTPMethod, _ location: String, headers: [(String, String)] = [], body: Body? = nil,
                     limit: Int = 1 << 20) async throws(FetchError) -> Response {
        let url = self.url(location)
        var refreshed = false
        var waits = 0
        while true {
            let response = try await perform(method, url, headers: headers, body: body, limit: limit, authorization: authorization)
            if response.status == 401, !refreshed, let challenge = response.headers.first(name: "WWW-Authenticate") {
                refreshed = true
                let answer = try await authenticate(challenge)
                state.withLock { $0.authorization = answer }
                continue
            }
            if response.status == 429, waits < 5 {
                waits += 1
                await FetchExecutor.sleep(seconds: Fetcher.retryAfter(response.headers.first(name: "Retry-After")))
                continue
            }
            return response
        }
    }

    /// One request. `Authorization` goes only to the registry's own origin: an upload
    /// `Location` on another host gets none (AsyncHTTPClient drops it on redirects there).
    func perform(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Body?, limit: Int,
                 authorization: String?) async throws(FetchError) -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "strata")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let authorization, Self.origin(of: url) == Self.origin(of: base) { request.headers.add(name: "Authorization", value: authorization) }
        if let body { request.body = body() }
        do {
            let response = try await client.execute(request, timeout: .seconds(body == nil ? 60 : 3600))
            let bytes = try await response.body.collect(upTo: limit)
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
        } catch {
            var reason = "\(error)"
            if case .network(let words) = Fetcher.reason(for: error) { reason = words }
            if let tls = error as? NIOSSLError { reason = "TLS: \(tls)" }
            if let tls = error as? BoringSSLError { reason = "TLS: \(tls)" }
            throw .registry(path: name, message: "cannot reach the registry \(Self.origin(of: url)): \(reason); check the name, that it is up, and the network")
        }
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String {
        let scheme = url.hasPrefix("https://") ? "https://" : url.hasPrefix("http://") ? "http://" : ""
        guard !scheme.isEmpty else { return url }
        return scheme + String(url.dropFirst(scheme.count).prefix { $0 != "/" && $0 != "?" })
    }

    /// The `Authorization` that `challenge` (a `WWW-Authenticate` value) asks for: a bearer
    /// token from the realm it names, for the session's scopes; or basic credentials.
    func authenticate(_ challenge: String) async throws(FetchError) -> String {
        let challenges = AuthChallenge.parse(challenge)
        let username = endpoint.username ?? "", password = endpoint.password ?? ""
        let basic = username.isEmpty && password.isEmpty || endpoint.identityToken != nil
            ? nil : "Basic " + Data(username.utf8 + [0x3A] + password.utf8).base64EncodedString()
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.realm {
            var query: [String] = []
            if let service = bearer.parameters["service"] { query.append("service=" + Self.queryEncoded(service)) }
            // The challenge's own scope (one request's) and the session's, each asked once.
            var asked: [String] = []
            for scope in (bearer.parameters["scope"].map { $0.split(separator: " ").map(String.init) } ?? []) + scopes where !asked.contains(scope) {
                asked.append(scope)
            }
            let response: Response
            if let refresh = endpoint.identityToken {
                // OAuth2's refresh-token grant, as docker does with an `identitytoken`.
                var form = ["grant_type=refresh_token", "client_id=strata", "refresh_token=" + Self.queryEncoded(refresh)] + query
                if !asked.isEmpty { form.append("scope=" + Self.queryEncoded(asked.joined(separator: " "))) }
                let bytes = Array(form.joined(separator: "&").utf8)
                response = try await perform(.POST, realm, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                                             body: { .bytes(bytes) }, limit: 1 << 20, authorization: nil)
            } else {
                query += asked.map { "scope=" + Self.queryEncoded($0) }
                let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
                response = try await perform(.GET, url, headers: [("Accept", "application/json")], body: nil, limit: 1 << 20, authorization: nil,
                                             explicit: basic)
            }
            guard response.status == 200 else {
                throw .registry(path: name, message: "the token server \(realm) of \(endpoint.host) answered HTTP \(response.status)\(Self.detail(response.body))"
                    + (basic == nil && endpoint.identityToken == nil ? "; no credentials were found for \(endpoint.host) (strata login, docker login or podman login writes them)"
                                    : "; the credentials found for it were refused; log in again"))
            }
            guard let token = (try? JSON.parse(response.body)).flatMap({ $0["token"]?.stringValue ?? $0["access_token"]?.stringValue }), !token.isEmpty else {
                throw .registry(path: name, message: "the token server \(realm) of \(endpoint.host) sent no token")
            }
            return "Bearer " + token
        }
        if challenges.contains(where: { $0.scheme == "basic" }), let basic { return basic }
        throw .registry(path: name, message: "\(endpoint.host) asks for credentials, and no credentials were found for it (strata login, docker login or podman login writes them)")
    }

    /// A request with `explicit` as its `Authorization`, whatever the origin (the token
    /// server's realm is on a host of its own, and is given the registry's basic credentials).
    func perform(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Body?, limit: Int, authorization: String?,
                 explicit: String?) async throws(FetchError) -> Response {
        guard let explicit else { return try await perform(method, url, headers: headers, body: body, limit: limit, authorization: nil) }
        return try await perform(method, url, headers: headers + [("Authorization", explicit)], body: body, limit: limit, authorization: nil)
    }

    /// `: what the registry said`, or nothing when it said nothing readable.
    public static func detail(_ body: [UInt8]) -> String {
        RegistryErrorBody(body).summary.map { ": " + $0 } ?? ""
    }

    /// RFC 3986 unreserved characters kept, everything else percent-encoded.
    static func queryEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || "-._~".utf8.contains(byte) {
                out.append(byte)
            } else {
                out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

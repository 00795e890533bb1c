import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import StrataJSON
import StrataModel
import StrataOS
import StrataRegistry
import Synchronization

/// Pulls one image from a registry (the OCI distribution API) into an OCI layout of its own:
/// the manifest that the reference names (an index is followed to the image for the wanted
/// platform, and kept too), its config and its layers, each verified against its digest and
/// size while it streams. `index.json` names what the reference resolved to.
///
/// A registry that answers 401 is asked again as its `WWW-Authenticate` challenge says: with
/// a bearer token from its token server (anonymous, or for the basic credentials given), or
/// with those credentials themselves (`Basic`).
public final class RegistryPuller: Sendable {
    public let base: String
    public let repository: String
    public let reference: String
    public let platform: Platform
    public let staging: String
    public let progress: FetchProgress?
    public let username: String?
    public let password: String?
    /// The `Authorization` the registry last accepted, reused for every request after it.
    private let authorization = Mutex<String?>(nil)

    /// What a registry may answer for a manifest: OCI and Docker v2, images and indexes.
    public static let accept = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let indexTypes: Set = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]
    static let manifestLimit = 4 << 20

    public init(base: String, repository: String, reference: String, platform: Platform, staging: String, progress: FetchProgress? = nil,
                username: String? = nil, password: String? = nil) {
        self.base = base; self.repository = repository; self.reference = reference
        self.platform = platform; self.staging = staging; self.progress = progress
        self.username = username; self.password = password
    }

    var image: String { repository + ":" + reference }

    public func pull() throws(FetchError) {
        let top = try manifest(reference, expected: nil)
        var image = top
        if Self.indexTypes.contains(top.mediaType) {
            let chosen = try choose(from: top)
            image = try manifest(chosen.digest.description, expected: chosen.digest)
        }
        guard case .object(let fields) = image.document, let config = Self.descriptor(fields["config"]),
              case .array(let layers)? = fields["layers"] else {
            throw .registry(path: self.image, message: "the manifest of \(self.image) at \(base) is not an image manifest (no config or layers)")
        }
        var blobs = [config]
        for layer in layers {
            guard let descriptor = Self.descriptor(layer) else {
                throw .registry(path: self.image, message: "the manifest of \(self.image) at \(base) has a layer without a digest and size")
            }
            blobs.append(descriptor)
        }
        let headers = authorization.withLock { $0 }.map { [(name: "Authorization", value: $0)] } ?? []
        let fetcher = Fetcher(mirrors: [base + "/v2/" + repository + "/blobs"], progress: progress, headers: headers)
        let downloads = blobs.filter { !FileSystem.exists(blobPath($0.digest)) }.map {
            Download(path: $0.digest.description, destination: blobPath($0.digest), digest: $0.digest, size: $0.size, limit: max($0.size, 1))
        }
        _ = try fetcher.fetchAll(downloads)
        let index: JSONValue = .object([
            "schemaVersion": .int(2),
            "manifests": .array([.object([
                "mediaType": .string(top.mediaType), "digest": .string(top.digest.description), "size": .int(Int64(top.bytes.count)),
            ])]),
        ])
        try write(JSON.canonicalBytes(index), to: staging + "/index.json")
        try write(Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8), to: staging + "/oci-layout")
    }

    struct Manifest {
        var bytes: [UInt8]
        var digest: Digest
        var mediaType: String
        var document: JSONValue
    }

    func blobPath(_ digest: Digest) -> String { staging + "/blobs/sha256/" + digest.hex }

    /// GETs a manifest, checks it against `expected` (a digest reference) and stores it as a blob.
    func manifest(_ reference: String, expected: Digest?) throws(FetchError) -> Manifest {
        let url = base + "/v2/" + repository + "/manifests/" + reference
        var (status, contentType, challenge, body) = try get(url, accept: Self.accept.joined(separator: ", "))
        if status == 401, let challenge, authorization.withLock({ $0 }) == nil {
            let answer = try authenticate(challenge)
            authorization.withLock { $0 = answer }
            (status, contentType, _, body) = try get(url, accept: Self.accept.joined(separator: ", "))
        }
        guard status == 200 else { throw refusal(status: status, body: body, what: "manifest \(repository):\(reference)") }
        let digest = Digest.sha256(of: body)
        let pinned = expected ?? (try? Digest(parsing: reference))
        if let pinned, pinned != digest {
            throw .registry(path: image, message: "the manifest \(repository)@\(pinned) from \(base) has the digest \(digest); the registry is corrupt or tampered with")
        }
        guard let document = try? JSON.parse(body) else {
            throw .registry(path: image, message: "the manifest \(repository):\(reference) from \(base) is not JSON")
        }
        var mediaType = contentType?.split(separator: ";").first.map { String($0).trimmed } ?? ""
        if let declared = document["mediaType"]?.stringValue { mediaType = declared }
        guard Self.accept.contains(mediaType) else {
            throw .registry(path: image, message: "the manifest \(repository):\(reference) from \(base) is a \(mediaType.isEmpty ? "document of no media type" : mediaType), not an OCI or Docker v2 image or index")
        }
        try write(body, to: blobPath(digest))
        return Manifest(bytes: body, digest: digest, mediaType: mediaType, document: document)
    }

    /// The index's image for `platform`, as `docker pull` picks it (os and architecture; the
    /// only entry when there is one).
    func choose(from index: Manifest) throws(FetchError) -> (digest: Digest, size: Int64) {
        guard case .array(let entries)? = index.document["manifests"] else {
            throw .registry(path: image, message: "the index \(image) from \(base) has no manifests")
        }
        var candidates: [(Digest, Int64)] = []
        for entry in entries {
            guard let descriptor = Self.descriptor(entry) else { continue }
            let os = entry["platform"]?["os"]?.stringValue, architecture = entry["platform"]?["architecture"]?.stringValue
            if os == platform.os && architecture == platform.architecture { return descriptor }
            candidates.append(descriptor)
        }
        if candidates.count == 1, entries.count == 1 { return candidates[0] }
        throw .registry(path: image, message: "\(image) at \(base) has no image for \(platform)")
    }

    static func descriptor(_ value: JSONValue?) -> (digest: Digest, size: Int64)? {
        guard let text = value?["digest"]?.stringValue, let digest = try? Digest(parsing: text),
              let size = value?["size"]?.intValue, size >= 0 else { return nil }
        return (digest, size)
    }

    func refusal(status: Int, body: [UInt8], what: String) -> FetchError {
        let said = RegistryErrorBody(body)
        let detail = said.summary.map { ": " + $0 } ?? ""
        switch status {
        case 404: return .registry(path: image, message: "\(base) has no \(what) (HTTP 404\(detail)); check the name and tag")
        case 401, 403:
            let given = username == nil ? "no credentials were found for it (docker login or podman login writes them)" : "the credentials found for it were refused; log in again"
            return .registry(path: image, message: "\(base) refused the \(what) (HTTP \(status)\(detail)): \(given)")
        default: return .registry(path: image, message: "\(base) answered HTTP \(status) for the \(what)\(detail)")
        }
    }

    /// The `Authorization` that `challenge` (a `WWW-Authenticate` value) asks for: a bearer
    /// token from the realm it names, for pulling this repository; or basic credentials.
    func authenticate(_ challenge: String) throws(FetchError) -> String {
        let challenges = AuthChallenge.parse(challenge)
        let basic = (username ?? "").isEmpty && (password ?? "").isEmpty
            ? nil : "Basic " + Data((username ?? "") .utf8 + [0x3A] + (password ?? "").utf8).base64EncodedString()
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.realm {
            var query: [String] = []
            if let service = bearer.parameters["service"] { query.append("service=" + Self.queryEncoded(service)) }
            query.append("scope=" + Self.queryEncoded("repository:\(repository):pull"))
            let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
            let (status, _, _, body) = try get(url, accept: "application/json", authorization: basic, limit: 1 << 20)
            guard status == 200 else {
                let said = RegistryErrorBody(body).summary.map { ": " + $0 } ?? ""
                throw .registry(path: image, message: "the token server \(realm) of \(base) answered HTTP \(status)\(said)"
                    + (basic == nil ? "; no credentials were found for \(base) (docker login or podman login writes them)" : "; the credentials found for it were refused"))
            }
            guard let token = (try? JSON.parse(body)).flatMap({ $0["token"]?.stringValue ?? $0["access_token"]?.stringValue }), !token.isEmpty else {
                throw .registry(path: image, message: "the token server \(realm) of \(base) sent no token")
            }
            return "Bearer " + token
        }
        if challenges.contains(where: { $0.scheme == "basic" }), let basic { return basic }
        throw .registry(path: image, message: "\(base) asks for credentials (\(challenge)), and no credentials were found for it (docker login or podman login writes them)")
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

    /// The status, `Content-Type`, `WWW-Authenticate` and body of a GET (with the accepted
    /// `Authorization`, or `authorization` when given).
    func get(_ url: String, accept: String, authorization given: String? = nil,
             limit: Int = RegistryPuller.manifestLimit) throws(FetchError) -> (Int, String?, String?, [UInt8]) {
        let image = self.image, base = self.base
        let authorization = given ?? self.authorization.withLock { $0 }
        let result = FetchExecutor.runBlocking { () async -> Result<(Int, String?, String?, [UInt8]), FetchError> in
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: accept)
            request.headers.add(name: "User-Agent", value: "strata")
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            do {
                let response = try await Fetcher.sharedClient.execute(request, timeout: .seconds(60))
                let body = try await response.body.collect(upTo: limit)
                return .success((Int(response.status.code), response.headers.first(name: "Content-Type"),
                                 response.headers.first(name: "WWW-Authenticate"), Array(body.readableBytesView)))
            } catch {
                var reason = "\(error)"
                if case .network(let words) = Fetcher.reason(for: error) { reason = words }
                return .failure(.registry(path: image, message: "cannot reach the registry \(base): \(reason); check the name, that it is up, and the network"))
            }
        }
        return try result.get()
    }

    func write(_ bytes: [UInt8], to path: String) throws(FetchError) {
        do {
            try FileSystem.makeDirectories(FileSystem.parent(of: path), mode: 0o700)
            try HostFile.writeAtomically(bytes, to: path)
        } catch {
            throw .destination(path: image, destination: path, operation: "write", errno: error.errno)
        }
    }
}

extension String {
    var trimmed: String { String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
}

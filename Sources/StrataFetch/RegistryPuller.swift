import AsyncHTTPClient
import NIOCore
import StrataJSON
import StrataModel
import StrataOS
import StrataRegistry

/// Pulls one image from a registry (the OCI distribution API) into an OCI layout of its own:
/// the manifest that the reference names (an index is followed to the image for the wanted
/// platform, and kept too), its config and its layers, each verified against its digest and
/// size while it streams. `index.json` names what the reference resolved to.
///
/// This first version speaks to registries that need no credentials.
public struct RegistryPuller: Sendable {
    public var base: String
    public var repository: String
    public var reference: String
    public var platform: Platform
    public var staging: String
    public var progress: FetchProgress?

    /// What a registry may answer for a manifest: OCI and Docker v2, images and indexes.
    public static let accept = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let indexTypes: Set = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]
    static let manifestLimit = 4 << 20

    public init(base: String, repository: String, reference: String, platform: Platform, staging: String, progress: FetchProgress? = nil) {
        self.base = base; self.repository = repository; self.reference = reference
        self.platform = platform; self.staging = staging; self.progress = progress
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
        let fetcher = Fetcher(mirrors: [base + "/v2/" + repository + "/blobs"], progress: progress)
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
        let (status, contentType, body) = try get(url, accept: Self.accept.joined(separator: ", "))
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
        case 401, 403: return .registry(path: image, message: "\(base) refused the \(what) (HTTP \(status)\(detail)); this strata pulls only from registries that need no login")
        default: return .registry(path: image, message: "\(base) answered HTTP \(status) for the \(what)\(detail)")
        }
    }

    /// The status, `Content-Type` and body of a GET.
    func get(_ url: String, accept: String) throws(FetchError) -> (Int, String?, [UInt8]) {
        let image = self.image, base = self.base
        let result = FetchExecutor.runBlocking { () async -> Result<(Int, String?, [UInt8]), FetchError> in
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: accept)
            do {
                let response = try await Fetcher.sharedClient.execute(request, timeout: .seconds(60))
                let body = try await response.body.collect(upTo: Self.manifestLimit)
                return .success((Int(response.status.code), response.headers.first(name: "Content-Type"), Array(body.readableBytesView)))
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

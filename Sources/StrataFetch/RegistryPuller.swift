import AsyncHTTPClient
import NIOCore
import StrataJSON
import StrataModel
import StrataOS
import StrataRegistry

/// Pulls one image from a registry into an OCI layout of its own: the manifest that the
/// reference names (an index is followed to the image for the wanted platform, and kept
/// too), its config and its layers, each verified against its digest and size while it
/// streams; a layer cut off halfway resumes where it stopped. `index.json` names what the
/// reference resolved to. Blobs the caller already has (`present`) are not fetched, and
/// with `manifestsOnly` neither are the layers (what `strata lock` needs to pin them).
public final class RegistryPuller: Sendable {
    public let session: RegistrySession
    public let repository: String
    public let reference: String
    public let platform: Platform
    public let staging: String
    public let progress: FetchProgress?
    public let present: Set<Digest>
    public let manifestsOnly: Bool

    /// What a registry may answer for a manifest: OCI and Docker v2, images and indexes.
    public static let accept = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let indexTypes: Set = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]
    static let manifestLimit = 4 << 20

    public init(session: RegistrySession, repository: String, reference: String, platform: Platform, staging: String,
                progress: FetchProgress? = nil, present: Set<Digest> = [], manifestsOnly: Bool = false) {
        self.session = session; self.repository = repository; self.reference = reference
        self.platform = platform; self.staging = staging; self.progress = progress
        self.present = present; self.manifestsOnly = manifestsOnly
    }

    var image: String { session.name + (reference.hasPrefix("sha256:") ? "@" : ":") + reference }

    /// Returns the blobs downloaded (those the caller had, or the layout held, are not).
    @discardableResult
    public func pull() async throws(FetchError) -> [Fetched] {
        let top = try await manifest(reference, expected: nil)
        var image = top
        if Self.indexTypes.contains(top.mediaType) {
            let chosen = try choose(from: top)
            image = try await manifest(chosen.digest.description, expected: chosen.digest)
        }
        guard case .object(let fields) = image.document, let config = Self.descriptor(fields["config"]),
              case .array(let layers)? = fields["layers"] else {
            throw .registry(path: self.image, message: "the manifest of \(self.image) is not an image manifest (no config or layers)")
        }
        var blobs = [config]
        for layer in layers {
            guard let descriptor = Self.descriptor(layer) else {
                throw .registry(path: self.image, message: "the manifest of \(self.image) has a layer without a digest and size")
            }
            if !manifestsOnly { blobs.append(descriptor) }
        }
        var seen = Set<Digest>()
        let downloads = blobs.filter { !present.contains($0.digest) && seen.insert($0.digest).inserted && !FileSystem.exists(blobPath($0.digest)) }.map {
            Download(path: $0.digest.description, destination: blobPath($0.digest), digest: $0.digest, size: $0.size, limit: max($0.size, 1))
        }
        var refreshed = false
        var downloaded: [Fetched] = []
        while true {
            let headers = session.authorization.map { [(name: "Authorization", value: $0)] } ?? []
            let fetcher = Fetcher(mirrors: [session.base + "/v2/" + repository + "/blobs"], attempts: 4, parallelism: 6, progress: progress,
                                  client: session.client, headers: headers)
            switch await fetcher.runAll(downloads) {
            case .success(let fetched):
                downloaded = fetched
            case .failure(let error):
                // A token that expired while the layers moved: a new one, and the layers once more.
                if !refreshed, case .unavailable(_, let failures) = error, failures.contains(where: { $0.reason == .httpStatus(401) }) {
                    refreshed = true
                    try await session.reauthenticate()
                    continue
                }
                throw blobError(error)
            }
            break
        }
        let index: JSONValue = .object([
            "schemaVersion": .int(2),
            "manifests": .array([.object([
                "mediaType": .string(top.mediaType), "digest": .string(top.digest.description), "size": .int(Int64(top.bytes.count)),
            ])]),
        ])
        try write(JSON.canonicalBytes(index), to: staging + "/index.json")
        try write(Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8), to: staging + "/oci-layout")
        return downloaded
    }

    /// A blob's failure in the registry's words, not a Debian mirror's.
    func blobError(_ error: FetchError) -> FetchError {
        let suffix = "; the registry, or something between it and here, is corrupt or tampered with; nothing was stored"
        switch error {
        case .digestMismatch(let path, let expected, let actual, _, _):
            return .registry(path: image, message: "blob \(path) of \(image) arrived with the digest \(actual), not \(expected)" + suffix)
        case .sizeMismatch(let path, let expected, let actual, _, _):
            let got = actual > expected ? "at least \(actual) bytes" : "\(actual) bytes"
            return .registry(path: image, message: "blob \(path) of \(image) arrived as \(got), not the \(expected) its manifest says" + suffix)
        case .unavailable(let path, let failures):
            let reasons = failures.map { $0.reason.description + ($0.attempts > 1 ? " (\($0.attempts) attempts)" : "") }.joined(separator: "; ")
            return .registry(path: image, message: "cannot download blob \(path) of \(image): \(reasons); nothing was stored")
        default:
            return error
        }
    }

    struct Manifest {
        var bytes: [UInt8]
        var digest: Digest
        var mediaType: String
        var document: JSONValue
    }

    func blobPath(_ digest: Digest) -> String { staging + "/blobs/sha256/" + digest.hex }

    /// GETs a manifest, checks it against `expected` (a digest reference) and stores it as a blob.
    func manifest(_ reference: String, expected: Digest?) async throws(FetchError) -> Manifest {
        let response = try await session.send(.GET, "/v2/" + repository + "/manifests/" + reference,
                                              headers: [("Accept", Self.accept.joined(separator: ", "))], limit: Self.manifestLimit)
        guard response.status == 200 else {
            throw RegistryRefusal.error(status: response.status, body: response.body,
                                        what: reference.hasPrefix("sha256:") ? "manifest \(repository)@\(reference)" : "image \(repository):\(reference)", of: image,
                                        session: session, pushing: false)
        }
        let body = response.body
        let digest = Digest.sha256(of: body)
        let pinned = expected ?? (try? Digest(parsing: reference))
        if let pinned, pinned != digest {
            throw .registry(path: image, message: "the manifest \(session.name)@\(pinned) arrived with the digest \(digest); the registry is corrupt or tampered with")
        }
        guard let document = try? JSON.parse(body) else {
            throw .registry(path: image, message: "the manifest \(image) is not JSON")
        }
        var mediaType = response.headers.first(name: "Content-Type")?.split(separator: ";").first.map { String($0).trimmed } ?? ""
        if let declared = document["mediaType"]?.stringValue { mediaType = declared }
        guard Self.accept.contains(mediaType) else {
            throw .registry(path: image, message: "the manifest \(image) is a \(mediaType.isEmpty ? "document of no media type" : mediaType), not an OCI or Docker v2 image or index")
        }
        try write(body, to: blobPath(digest))
        return Manifest(bytes: body, digest: digest, mediaType: mediaType, document: document)
    }

    /// The index's image for `platform`, as `docker pull` picks it: os and architecture
    /// (and the variant, when the index gives several), else the only entry.
    func choose(from index: Manifest) throws(FetchError) -> (digest: Digest, size: Int64) {
        guard case .array(let entries)? = index.document["manifests"] else {
            throw .registry(path: image, message: "the index \(image) has no manifests")
        }
        var candidates: [(Digest, Int64)] = []
        for entry in entries {
            guard let descriptor = Self.descriptor(entry) else { continue }
            let os = entry["platform"]?["os"]?.stringValue, architecture = entry["platform"]?["architecture"]?.stringValue
            if os == platform.os && architecture == platform.architecture { return descriptor }
            candidates.append(descriptor)
        }
        if candidates.count == 1, entries.count == 1 { return candidates[0] }
        throw .registry(path: image, message: "\(image) has no image for \(platform)")
    }

    static func descriptor(_ value: JSONValue?) -> (digest: Digest, size: Int64)? {
        guard let text = value?["digest"]?.stringValue, let digest = try? Digest(parsing: text),
              let size = value?["size"]?.intValue, size >= 0 else { return nil }
        return (digest, size)
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

/// A registry's refusal as one sentence: what it said, and what to do.
enum RegistryRefusal {
    static func error(status: Int, body: [UInt8], what: String, of image: String, session: RegistrySession, pushing: Bool) -> FetchError {
        let detail = RegistrySession.detail(body)
        let host = session.endpoint.host
        let credentials = session.endpoint.username != nil || session.endpoint.identityToken != nil
        switch status {
        case 404: return .registry(path: image, message: "\(host) has no \(what) (HTTP 404\(detail)); check the name and tag")
        case 401, 403:
            let given = credentials ? "the credentials found for it were refused\(pushing ? " or may not push there" : ""); log in again (strata login \(host))"
                                    : "no credentials were found for it (strata login, docker login or podman login writes them)"
            return .registry(path: image, message: "\(host) refused the \(what) (HTTP \(status)\(detail)): \(given)")
        default: return .registry(path: image, message: "\(host) answered HTTP \(status) for the \(what)\(detail)")
        }
    }
}

extension String {
    var trimmed: String { String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
}

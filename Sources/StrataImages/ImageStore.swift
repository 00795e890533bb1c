import Glibc
import StrataArchive
import StrataJSON
import StrataModel
import StrataOS
import StrataOCI
import StrataEnvironment
import StrataStore

/// One tagged image of the store, as `strata images` lists it.
public struct ImageSummary: Sendable, Equatable {
    public var reference: String
    /// The manifest digest: the image's id.
    public var manifest: Digest
    /// RFC 3339, from the config; nil when the config has none.
    public var created: String?
    /// Bytes of the config and every layer blob (what the image takes in the store, shared blobs counted once per image).
    public var size: Int64
    public var layers: Int
}

/// The store's images, for one request: the tags of its OCI layout (`index.json`), the
/// images they name, commits of sessions, and image archives in and out.
///
/// Guarantees: every document read is verified against its digest; tags change only
/// under the store's `index` lock, through `tmp/` and a rename, so concurrent requests
/// all land and a reader sees one whole index; nothing is tagged or stored from an
/// archive until all of it verified.
public struct ImageStore: Sendable {
    public let store: Store
    public let context: RequestContext

    public init(store: Store, context: RequestContext) {
        self.store = store; self.context = context
    }

    /// Every tag in the store's `index.json` with its image, sorted by reference.
    public func list() throws(StrataError) -> [ImageSummary] {
        let index: OCIIndex
        do { index = try OCIIndex(layout: store.root) } catch { throw .image(error) }
        var summaries: [ImageSummary] = []
        for entry in index.entries {
            guard let refName = entry.refName else { continue }
            let image = try storedImage(refName)
            let config = try configDocument(image)
            summaries.append(ImageSummary(
                reference: refName, manifest: image.manifestDigest, created: config["created"]?.stringValue,
                size: image.config.size + image.layers.reduce(0) { $0 + $1.size }, layers: image.layers.count))
        }
        return summaries.sorted { $0.reference < $1.reference }
    }

    /// The tag a user's word names: `NAME[:TAG]` (tag `latest` when left out), or the
    /// start (at least 4 hex digits) of an image id when exactly one image has it.
    public func reference(_ text: String) throws(StrataError) -> String {
        let index: OCIIndex
        do { index = try OCIIndex(layout: store.root) } catch { throw .image(error) }
        let tagged = index.entries.filter { $0.refName != nil }
        if let reference = try? ImageReference(parsing: text), tagged.contains(where: { $0.refName == reference.description }) {
            return reference.description
        }
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        if hex.utf8.count >= 4, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
            let matches = Set(tagged.filter { $0.digest.hex.hasPrefix(hex) }.map(\.digest))
            if matches.count == 1, let match = tagged.first(where: { $0.digest.hex.hasPrefix(hex) }), let name = match.refName {
                return name
            }
            if matches.count > 1 { throw .usage("\(text) names \(matches.count) images; give more of the id or a NAME:TAG") }
        }
        throw .imageNotFound(text)
    }

    /// The image a tag points at, every document verified.
    func storedImage(_ refName: String) throws(StrataError) -> OCIImage {
        do { return try OCILayout.resolve(layout: store.root, tag: refName) } catch {
            if case .tagNotFound = error { throw .imageNotFound(refName) }
            throw .image(error)
        }
    }

    func configDocument(_ image: OCIImage) throws(StrataError) -> [String: JSONValue] {
        let path = store.blobPath(image.config.digest)
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path, limit: 4 << 20) } catch {
            throw .image(.unreadable(path: path, reason: error.reason))
        }
        guard case .object(let fields)? = try? JSON.parse(bytes) else {
            throw .image(.invalid(path: path, problem: "is not an image config"))
        }
        return fields
    }

    /// Removes tags (`docker rmi` of a tag). The blobs stay until no tag, lockfile or session
    /// needs them; an environment locked on the image keeps working.
    public func untag(_ text: String) throws(StrataError) -> String {
        let refName = try reference(text)
        try updateIndex { (index) throws(StrataError) in index.removeTag(refName) }
        return refName
    }

    /// Forgets the images `index.json` names without a tag (`docker image prune`'s dangling
    /// images); returns their manifest digests. gc removes their blobs once nothing else needs them.
    public func removeUntagged() throws(StrataError) -> [Digest] {
        try updateIndex { (index) throws(StrataError) in index.removeUntagged() }
    }

    /// Tags the image `source` names as `target` too.
    public func tag(_ source: String, as target: ImageReference) throws(StrataError) {
        let image = try storedImage(try reference(source))
        try updateIndex { (index) throws(StrataError) in
            index.setTag(target.description, manifest: image.manifest.digest, size: image.manifest.size,
                         mediaType: image.manifest.mediaType)
        }
    }

    /// What `docker image inspect` shows, as JSON: the id, tags, config and layers.
    public func inspect(_ text: String) throws(StrataError) -> JSONValue {
        let refName = try reference(text)
        let image = try storedImage(refName)
        let config = try configDocument(image)
        let index: OCIIndex
        do { index = try OCIIndex(layout: store.root) } catch { throw .image(error) }
        let tags = index.entries.filter { $0.digest == image.manifestDigest }.compactMap(\.refName).sorted()
        var fields: [String: JSONValue] = [
            "Id": .string(image.manifestDigest.description),
            "RepoTags": .array(tags.map(JSONValue.string)),
            "Config": config["config"] ?? .object([:]),
            "ConfigDigest": .string(image.config.digest.description),
            "Architecture": config["architecture"] ?? .null,
            "Os": config["os"] ?? .null,
            "Size": .int(image.config.size + image.layers.reduce(0) { $0 + $1.size }),
            "RootFS": .object(["Type": .string("layers"), "Layers": .array(image.diffIDs.map { .string($0.description) })]),
            "Layers": .array(image.layers.map {
                .object(["MediaType": .string($0.mediaType), "Digest": .string($0.digest.description), "Size": .int($0.size)])
            }),
            "History": config["history"] ?? .array([]),
        ]
        if let created = config["created"] { fields["Created"] = created }
        if let author = config["author"] { fields["Author"] = author }
        return .object(fields)
    }

    /// Stores an image's config and manifest (its layers are stored already) and tags it;
    /// returns the manifest's digest, the image's id.
    func publish(_ documents: ImageDocuments, as reference: ImageReference) throws(StrataError) -> Digest {
        let config = documents.configBytes
        let manifestBytes = documents.manifestBytes(config: config)
        let manifest: Digest
        do {
            try store.ingestBlob(bytes: config)
            manifest = try store.ingestBlob(bytes: manifestBytes)
        } catch { throw .store(error) }
        try tag(reference, manifest: manifest, size: Int64(manifestBytes.count))
        return manifest
    }

    /// Points `reference` at the manifest in the store's `index.json`, under the store's index lock.
    func tag(_ reference: ImageReference, manifest: Digest, size: Int64) throws(StrataError) {
        try updateIndex { (index) throws(StrataError) in index.setTag(reference.description, manifest: manifest, size: size) }
    }

    /// Reads, changes and rewrites the store's `index.json` under its lock, so that two
    /// commands tagging at once both land.
    @discardableResult
    func updateIndex<T>(_ change: (inout OCIIndex) throws(StrataError) -> T) throws(StrataError) -> T {
        try store.withLock("index", lockFailure: StrataError.store) { () throws(StrataError) -> T in
            var index: OCIIndex
            do throws(OCIError) { index = try OCIIndex(layout: store.root) } catch { throw .image(error) }
            let result = try change(&index)
            // Through the store's tmp/: a write killed halfway leaves nothing in the layout's root.
            do throws(OCIError) { try index.write(temporaryDirectory: store.temporaryDirectory) } catch { throw .image(error) }
            return result
        }
    }
}

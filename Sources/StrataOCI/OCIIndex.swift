import StrataOS
import StrataJSON
import StrataModel

/// One image an OCI layout's `index.json` names.
public struct OCIIndexEntry: Sendable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    /// `org.opencontainers.image.ref.name`: the tag (strata writes `NAME:TAG`).
    public var refName: String?
}

/// The tags of an OCI image layout: its `index.json`, read and rewritten whole.
///
/// Entries strata did not write (other tools' annotations, platforms, nested indexes)
/// are kept as they were; only entries whose ref name is being set or removed change.
/// Callers serialize writers (the store holds its `index` lock around `update`).
public struct OCIIndex: Sendable {
    public let layout: String
    /// Every descriptor of `manifests`, as read.
    var raw: [JSONValue]
    /// The index document's other fields (`schemaVersion`, `mediaType`, `annotations`…).
    var fields: [String: JSONValue]

    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"

    /// Reads `layout/index.json`; a layout without one reads as empty.
    public init(layout: String) throws(OCIError) {
        self.layout = layout
        let path = layout + "/index.json"
        guard HostFile.exists(path) else {
            raw = []
            fields = ["schemaVersion": .int(2)]
            return
        }
        let document = try OCILayout.document(at: path)
        guard case .object(var fields) = document, case .array(let manifests)? = fields["manifests"] else {
            throw .invalid(path: path, problem: "has no \"manifests\" array")
        }
        for item in manifests { _ = try OCILayout.descriptor(item, path: path) }
        fields["manifests"] = nil
        self.raw = manifests
        self.fields = fields
    }

    /// Every entry, in index order.
    public var entries: [OCIIndexEntry] {
        raw.compactMap { value in
            guard let d = try? OCILayout.descriptor(value, path: layout + "/index.json") else { return nil }
            return OCIIndexEntry(mediaType: d.mediaType, digest: d.digest, size: d.size, refName: d.refName)
        }
    }

    /// The entry tagged `refName` (the last one, as `OCILayout.resolve` picks).
    public func entry(refName: String) -> OCIIndexEntry? {
        entries.last { $0.refName == refName }
    }

    /// Points `refName` at the manifest `digest` (moving the tag if it named another image).
    public mutating func setTag(_ refName: String, manifest digest: Digest, size: Int64,
                                mediaType: String = OCIIndex.manifestMediaType) {
        removeTag(refName)
        raw.append(.object([
            "mediaType": .string(mediaType), "digest": .string(digest.description), "size": .int(size),
            "annotations": .object([OCILayout.refNameAnnotation: .string(refName)]),
        ]))
    }

    /// Removes the tag; returns whether the index had it.
    @discardableResult
    public mutating func removeTag(_ refName: String) -> Bool {
        let before = raw.count
        raw.removeAll { value in
            guard case .object(let f) = value, case .object(let a)? = f["annotations"],
                  case .string(let name)? = a[OCILayout.refNameAnnotation] else { return false }
            return name == refName
        }
        return raw.count != before
    }

    /// Removes the entries without a tag (Docker's dangling images); returns their digests.
    public mutating func removeUntagged() -> [Digest] {
        let untagged = entries.filter { $0.refName == nil }.map(\.digest)
        raw.removeAll { value in
            guard let descriptor = try? OCILayout.descriptor(value, path: layout + "/index.json") else { return false }
            return descriptor.refName == nil
        }
        return untagged
    }

    /// Writes `index.json` atomically (a reader sees the old or the new index, never half
    /// of one), through a new file in `temporaryDirectory` (on the layout's file system; by
    /// default the layout itself, under a hidden name): a store passes its `tmp/`, so that a
    /// write killed halfway leaves nothing in the layout's root.
    public func write(temporaryDirectory: String? = nil) throws(OCIError) {
        var document = fields
        document["schemaVersion"] = document["schemaVersion"] ?? .int(2)
        document["manifests"] = .array(raw)
        let path = layout + "/index.json"
        do { try HostFile.writeAtomically(JSON.canonicalBytes(.object(document)), to: path, temporaryDirectory: temporaryDirectory) } catch {
            throw .unreadable(path: path, reason: "cannot write it: \(error.reason)")
        }
    }
}

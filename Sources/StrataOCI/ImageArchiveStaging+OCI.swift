import StrataJSON
import StrataModel

/// An image being staged, with the configs it was found to use (to match docker
/// `RepoTags` in archives that carry both formats).
struct StagingImage {
    var staged: StagedImage
    var configs: Set<Digest> = []

    mutating func add(_ digest: Digest) {
        if !staged.blobs.contains(digest) { staged.blobs.append(digest) }
    }
}

extension ImageArchiveStaging {
    /// Images whose `blobs/sha256/` nesting depth an index may reach; deeper is hostile.
    static let maxIndexDepth = 4

    /// The images an OCI image layout archive's `index.json` names, every blob they
    /// reach verified and placed. Two names for one manifest make one image.
    func stageLayout() throws(OCIError) -> [StagingImage] {
        if entries.has("oci-layout") {
            let layout = try document(try entries.file("oci-layout", referencedBy: "oci-layout"), name: "oci-layout")
            guard case .object(let fields) = layout, case .string? = fields["imageLayoutVersion"] else {
                throw .invalid(path: entries.label("oci-layout"), problem: "has no imageLayoutVersion; it is not an OCI image layout")
            }
        }
        let index = try document(try entries.file("index.json", referencedBy: "index.json"), name: "index.json")
        let descriptors = try OCILayout.manifestList(index, path: entries.label("index.json"))
        guard !descriptors.isEmpty else {
            throw .invalid(path: entries.label("index.json"), problem: "lists no images")
        }
        var images: [StagingImage] = []
        for descriptor in descriptors {
            let names = descriptor.refName.map { [$0] } ?? []
            if let same = images.firstIndex(where: { $0.staged.manifest.digest == descriptor.digest }) {
                images[same].staged.refNames += names.filter { !images[same].staged.refNames.contains($0) }
                continue
            }
            var image = StagingImage(staged: StagedImage(refNames: names, manifest: descriptor.contentDescriptor, blobs: []))
            try visit(descriptor, referrer: "index.json", depth: 0, into: &image)
            images.append(image)
        }
        return images
    }

    private func visit(_ descriptor: OCILayout.Descriptor, referrer: String, depth: Int,
                       into image: inout StagingImage) throws(OCIError) {
        let name = blobName(descriptor.digest)
        let label = entries.label(name)
        if OCILayout.manifestTypes.contains(descriptor.mediaType) {
            let manifest = try verifiedDocument(descriptor, referrer: referrer, into: &image)
            guard case .object(let fields) = manifest, let configValue = fields["config"],
                  case .array(let layerValues)? = fields["layers"] else {
                throw .invalid(path: label, problem: "is not an image manifest (no config or layers)")
            }
            let config = try OCILayout.descriptor(configValue, path: label)
            let configDocument = try verifiedDocument(config, referrer: name, into: &image)
            image.configs.insert(config.digest)
            for value in layerValues {
                let layer = try OCILayout.descriptor(value, path: label)
                try place(try verifiedFile(layer, referrer: name))
                image.add(layer.digest)
            }
            let diffIDs = try self.diffIDs(configDocument, name: blobName(config.digest))
            guard diffIDs.count == layerValues.count else {
                throw .invalid(path: entries.label(blobName(config.digest)),
                               problem: "lists \(diffIDs.count) diff ids, but its manifest \(name) has \(layerValues.count) layers")
            }
        } else if OCILayout.indexTypes.contains(descriptor.mediaType) {
            guard depth < Self.maxIndexDepth else {
                throw .invalid(path: label, problem: "nests image indexes more than \(Self.maxIndexDepth) deep")
            }
            let nested = try OCILayout.manifestList(try verifiedDocument(descriptor, referrer: referrer, into: &image), path: label)
            var found = false
            // `docker save` of a multi-platform image keeps the whole index but only its own
            // platform's blobs: manifests the archive does not hold at all are skipped.
            for child in nested where entries.has(blobName(child.digest)) {
                try visit(child, referrer: name, depth: depth + 1, into: &image)
                found = true
            }
            guard found else { throw .invalid(path: label, problem: "lists no image the archive holds") }
        } else {
            throw .unsupportedMediaType(path: entries.label(referrer), mediaType: descriptor.mediaType)
        }
    }

    /// The archive's `blobs/sha256/<hex>` for `descriptor`, its digest and size checked.
    private func verifiedFile(_ descriptor: OCILayout.Descriptor, referrer: String) throws(OCIError) -> ArchivedFile {
        let name = blobName(descriptor.digest)
        let file = try entries.file(name, referencedBy: referrer)
        guard file.digest == descriptor.digest else {
            throw .digestMismatch(path: entries.label(name), expected: descriptor.digest, actual: file.digest)
        }
        guard file.size == descriptor.size else {
            throw .invalid(path: entries.label(name), problem: "is \(file.size) bytes, but \(referrer) says \(descriptor.size)")
        }
        return file
    }

    private func verifiedDocument(_ descriptor: OCILayout.Descriptor, referrer: String,
                                  into image: inout StagingImage) throws(OCIError) -> JSONValue {
        let file = try verifiedFile(descriptor, referrer: referrer)
        let value = try document(file, name: blobName(descriptor.digest))
        try place(file)
        image.add(descriptor.digest)
        return value
    }

    private func blobName(_ digest: Digest) -> String { "blobs/sha256/" + digest.hex }

    /// The `rootfs.diff_ids` of an image config.
    func diffIDs(_ config: JSONValue, name: String) throws(OCIError) -> [Digest] {
        guard case .object(let fields) = config, case .object(let rootfs)? = fields["rootfs"],
              case .array(let values)? = rootfs["diff_ids"] else {
            throw .invalid(path: entries.label(name), problem: "is not an image config (it has no rootfs.diff_ids)")
        }
        var diffIDs: [Digest] = []
        for value in values {
            guard case .string(let text) = value, let digest = try? Digest(parsing: text) else {
                throw .invalid(path: entries.label(name), problem: "has a diff id that is not a sha256 digest")
            }
            diffIDs.append(digest)
        }
        return diffIDs
    }
}

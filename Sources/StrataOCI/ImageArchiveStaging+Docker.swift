import StrataArchive
import StrataJSON
import StrataModel

/// One element of a `docker save` archive's `manifest.json`, its file names cleaned.
struct DockerArchiveEntry {
    var config: String
    var repoTags: [String]
    var layers: [String]
}

extension ImageArchiveStaging {
    /// The images of a `docker save` archive converted to OCI images: the config as is,
    /// the layer files as they are (each checked against its diff id), and a new OCI image
    /// manifest. Entries that turn out to be the same image make one image with all names.
    func stageDockerArchive() throws(OCIError) -> [StagedImage] {
        var layerCache: [String: (file: ArchivedFile, descriptor: OCIDescriptor, diffID: Digest)] = [:]
        var images: [StagedImage] = []
        for entry in try dockerManifest() {
            let configFile = try entries.file(entry.config, referencedBy: "manifest.json")
            let diffIDs = try self.diffIDs(try document(configFile, name: entry.config), name: entry.config)
            guard diffIDs.count == entry.layers.count else {
                throw .invalid(path: entries.label(entry.config),
                               problem: "lists \(diffIDs.count) diff ids, but manifest.json gives it \(entry.layers.count) layers")
            }
            var layers: [OCIDescriptor] = []
            var layerFiles: [ArchivedFile] = []
            for (name, diffID) in zip(entry.layers, diffIDs) {
                // Images of one archive share layers: each file is decompressed and checked once.
                if let cached = layerCache[name] {
                    guard cached.diffID == diffID else {
                        throw .digestMismatch(path: entries.label(name), expected: diffID, actual: cached.diffID)
                    }
                    layers.append(cached.descriptor)
                    continue
                }
                let file = try entries.file(name, referencedBy: "manifest.json")
                let descriptor = try layerDescriptor(file, name: name, diffID: diffID)
                layerCache[name] = (file, descriptor, diffID)
                layers.append(descriptor)
                layerFiles.append(file)
            }
            try place(configFile)
            for file in layerFiles { try place(file) }
            let config = OCIDescriptor(mediaType: OCILayout.ociConfigType, digest: configFile.digest, size: configFile.size)
            let manifest = try placeDocument(JSON.canonicalBytes(ociManifest(config: config, layers: layers)),
                                             mediaType: OCILayout.ociManifestType)
            if let same = images.firstIndex(where: { $0.manifest == manifest }) {
                images[same].refNames += entry.repoTags.filter { !images[same].refNames.contains($0) }
                continue
            }
            var blobs: [Digest] = []
            for digest in [manifest.digest, config.digest] + layers.map(\.digest) where !blobs.contains(digest) {
                blobs.append(digest)
            }
            images.append(StagedImage(refNames: entry.repoTags, manifest: manifest, blobs: blobs))
        }
        return images
    }

    /// Names the OCI images of an archive that has both `index.json` and `manifest.json`
    /// (`docker save` since 25) by the `RepoTags` of the entries with the same config.
    /// Those replace the index's `ref.name`s, which docker sets to the bare tag (`latest`).
    func addRepoTags(to images: inout [StagingImage]) throws(OCIError) {
        var renamed: Set<Int> = []
        for entry in try dockerManifest() where !entry.repoTags.isEmpty {
            let config = try entries.file(entry.config, referencedBy: "manifest.json")
            for index in images.indices where images[index].configs.contains(config.digest) {
                if renamed.insert(index).inserted { images[index].staged.refNames = [] }
                images[index].staged.refNames += entry.repoTags.filter { !images[index].staged.refNames.contains($0) }
            }
        }
    }

    func dockerManifest() throws(OCIError) -> [DockerArchiveEntry] {
        let label = entries.label("manifest.json")
        let shape = "is not a docker-archive manifest (an array of {\"Config\", \"RepoTags\", \"Layers\"})"
        guard case .array(let items) = try document(try entries.file("manifest.json", referencedBy: "manifest.json"), name: "manifest.json"),
              !items.isEmpty else {
            throw .invalid(path: label, problem: shape)
        }
        var result: [DockerArchiveEntry] = []
        for item in items {
            guard case .object(let fields) = item, case .string(let config)? = fields["Config"],
                  case .array(let layerValues)? = fields["Layers"] else {
                throw .invalid(path: label, problem: shape)
            }
            var repoTags: [String] = []
            switch fields["RepoTags"] {
            case nil, .null?: break
            case .array(let tags)?:
                for tag in tags {
                    guard case .string(let text) = tag else { throw .invalid(path: label, problem: shape) }
                    repoTags.append(text)
                }
            default: throw .invalid(path: label, problem: shape)
            }
            var layers: [String] = []
            for value in layerValues {
                guard case .string(let layer) = value else { throw .invalid(path: label, problem: shape) }
                layers.append(try fileName(layer))
            }
            result.append(DockerArchiveEntry(config: try fileName(config), repoTags: repoTags, layers: layers))
        }
        return result
    }

    /// A name `manifest.json` gives, cleaned like entry names (and refused like them).
    private func fileName(_ raw: String) throws(OCIError) -> String {
        guard let name = try entries.clean(raw, referencedBy: "manifest.json") else {
            throw .invalid(path: entries.label("manifest.json"), problem: "names \"\(raw)\", which is not a file")
        }
        return name
    }

    /// A docker-archive layer file as an OCI layer: its media type from its first bytes,
    /// its decompressed sha256 checked against `diffID`.
    private func layerDescriptor(_ file: ArchivedFile, name: String, diffID: Digest) throws(OCIError) -> OCIDescriptor {
        let mediaType: String
        let actual: Digest
        let compression = LayerCompression(head: file.head)
        switch compression {
        case .none:
            mediaType = "application/vnd.oci.image.layer.v1.tar"
            actual = file.digest
        case .gzip, .zstd:
            mediaType = "application/vnd.oci.image.layer.v1.tar+" + compression.rawValue
            do { actual = try TarDigest.diffID(ofArchiveAt: location(of: file)) } catch {
                throw .invalid(path: entries.label(name), problem: "cannot be decompressed: \(error.reason)")
            }
        case .xz, .bzip2, .lz4:
            throw .invalid(path: entries.label(name), problem: "is compressed with \(compression.rawValue); an OCI layer is a plain, gzip or zstd tar")
        }
        guard actual == diffID else { throw .digestMismatch(path: entries.label(name), expected: diffID, actual: actual) }
        return OCIDescriptor(mediaType: mediaType, digest: file.digest, size: file.size)
    }

    private func ociManifest(config: OCIDescriptor, layers: [OCIDescriptor]) -> JSONValue {
        func value(_ descriptor: OCIDescriptor) -> JSONValue {
            .object([
                "mediaType": .string(descriptor.mediaType),
                "digest": .string(descriptor.digest.description),
                "size": .int(descriptor.size),
            ])
        }
        return .object([
            "schemaVersion": .int(2),
            "mediaType": .string(OCILayout.ociManifestType),
            "config": value(config),
            "layers": .array(layers.map(value)),
        ])
    }
}

/// How a layer file is compressed, from its magic number.
enum LayerCompression: String {
    case none, gzip, zstd, xz, bzip2, lz4

    init(head: [UInt8]) {
        if head.starts(with: [0x1f, 0x8b]) { self = .gzip }
        else if head.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { self = .zstd }
        else if head.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { self = .xz }
        else if head.starts(with: [0x42, 0x5a, 0x68]) { self = .bzip2 }
        else if head.starts(with: [0x04, 0x22, 0x4d, 0x18]) { self = .lz4 }
        else { self = .none }
    }
}

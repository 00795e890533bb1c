import Glibc
import StrataArchive
import StrataJSON
import StrataModel
import StrataOS
import StrataOCI
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

extension Engine {
    /// Every tag in the store's `index.json` with its image, sorted by reference.
    public func images() throws(StrataError) -> [ImageSummary] {
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
    public func imageReference(_ text: String) throws(StrataError) -> String {
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
    public func removeImage(_ text: String) throws(StrataError) -> String {
        let refName = try imageReference(text)
        try updateIndex { (index) throws(StrataError) in index.removeTag(refName) }
        return refName
    }

    /// Tags the image `source` names as `target` too.
    public func tagImage(_ source: String, as target: ImageReference) throws(StrataError) {
        let image = try storedImage(try imageReference(source))
        try updateIndex { (index) throws(StrataError) in
            index.setTag(target.description, manifest: image.manifest.digest, size: image.manifest.size,
                         mediaType: image.manifest.mediaType)
        }
    }

    /// What `docker image inspect` shows, as JSON: the id, tags, config and layers.
    public func inspectImage(_ text: String) throws(StrataError) -> JSONValue {
        let refName = try imageReference(text)
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

    /// Writes the image to `output` (replaced only once complete). An OCI archive carries
    /// compressed layers (`compression`, gzip by default; tar layers are compressed once
    /// and remembered); a docker archive carries tars, as `docker save` does.
    public func exportImage(_ text: String, format: ImageArchiveFormat, to output: String,
                            compression: ImageCompression = .gzip) throws(StrataError) {
        let refName = try imageReference(text)
        let image = try storedImage(refName)
        let manifest = format == .ociLayout ? try compressedVariant(image, compression) : image.manifestDigest
        do throws(OCIError) {
            switch format {
            case .ociLayout:
                try ImageArchiveWriter.writeOCILayout(from: store.root, manifest: manifest, refName: refName, to: output)
            case .dockerArchive:
                try ImageArchiveWriter.writeDockerArchive(from: store.root, manifest: image.manifestDigest, repoTags: [refName], to: output)
            }
        } catch {
            throw .image(error)
        }
    }

    /// The same image with its tar layers compressed: a second manifest in the store (same
    /// config, so the same diff ids), untagged. Returns its digest; the image itself when
    /// there is nothing to compress.
    func compressedVariant(_ image: OCIImage, _ compression: ImageCompression) throws(StrataError) -> Digest {
        guard let compressor = compression.compressor,
              image.layers.contains(where: { $0.mediaType == ImageLayerCache.tarMediaType }) else { return image.manifestDigest }
        let cache = ImageLayerCache(storeRoot: store.root)
        var layers: [ImageLayer] = []
        for (layer, diffID) in zip(image.layers, image.diffIDs) {
            guard layer.mediaType == ImageLayerCache.tarMediaType else {
                layers.append(ImageLayer(mediaType: layer.mediaType, digest: layer.digest, size: layer.size, diffID: diffID))
                continue
            }
            let variant = "blob-" + compression.rawValue
            if let known = cache.lookup(layer.digest, variant: variant), store.hasBlob(known.digest) {
                layers.append(known)
                continue
            }
            let temporary = store.temporaryPath("export-layer." + compressor.rawValue)
            defer { unlink(temporary) }
            let compressed: (digest: Digest, size: Int64)
            do { compressed = try LayerCompressor.compress(store.blobPath(layer.digest), to: temporary, with: compressor) } catch {
                throw .archive(path: store.blobPath(layer.digest), error)
            }
            do { try store.publishBlob(temporaryFile: temporary, trusting: compressed.digest) } catch { throw .store(error) }
            let made = ImageLayer(mediaType: compressor.mediaType, digest: compressed.digest, size: compressed.size, diffID: diffID)
            cache.record(layer.digest, variant: variant, made)
            layers.append(made)
        }
        let manifest = ImageDocuments.manifestBytes(config: image.config, layers: layers)
        do { return try store.ingestBlob(bytes: manifest) } catch { throw .store(error) }
    }

    /// Reads an image archive (OCI or docker format, as podman, skopeo, docker or strata wrote
    /// it), verifies every blob, stores them and tags the images: as the archive names them,
    /// or as `tag` (an archive with one image only). Returns the tags set. Nothing is stored
    /// or tagged unless the whole archive is sound.
    public func importImage(_ archive: String, tag: ImageReference?) throws(StrataError) -> [String] {
        guard HostFile.exists(archive) else { throw .input(path: archive, reason: "no such file; give the path of an image archive") }
        let staging = store.temporaryPath("import")
        do { try store.makeTemporaryDirectory(staging) } catch { throw .store(error) }
        defer { removeStaging(staging) }
        let staged: StagedArchive
        do { staged = try ImageArchiveReader.stage(archive: archive, into: staging) } catch { throw .image(error) }
        guard !staged.images.isEmpty else { throw .input(path: archive, reason: "holds no image") }
        if tag != nil, staged.images.count > 1 {
            throw .usage("\(archive) holds \(staged.images.count) images; --tag names one, so import it without --tag")
        }
        var tags: [(String, StagedImage)] = []
        for image in staged.images {
            if let tag {
                tags.append((tag.description, image))
                continue
            }
            var names: [String] = []
            for name in image.refNames {
                // Archives name images as `docker.io/library/x:1`, `localhost/x:1` or a bare tag (`1.0`).
                if let reference = try? ImageReference(parsing: Self.familiarName(name)) { names.append(reference.description) }
            }
            guard !names.isEmpty else {
                throw .usage("\(archive) names its image \(image.refNames.isEmpty ? "nothing" : image.refNames.joined(separator: ", ")), which is not a NAME:TAG; give one with --tag")
            }
            tags += names.map { ($0, image) }
        }
        for image in staged.images {
            for blob in image.blobs {
                do { try store.ingestBlob(copying: OCILayout.blobPath(staging, blob), expected: blob) } catch { throw .store(error) }
            }
        }
        try updateIndex { (index) throws(StrataError) in
            for (name, image) in tags {
                index.setTag(name, manifest: image.manifest.digest, size: image.manifest.size, mediaType: image.manifest.mediaType)
            }
        }
        return tags.map(\.0)
    }

    /// Docker's short form of a Docker Hub name (`docker.io/library/x:1` is `x:1`), as `docker images` shows it.
    static func familiarName(_ name: String) -> String {
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"] where name.hasPrefix(prefix) {
            return String(name.dropFirst(prefix.count))
        }
        return name
    }

    private func removeStaging(_ path: String) {
        do { try store.discardTemporary(path) } catch { note("could not remove \(path): \(StrataError.store(error))") }
    }
}

import Glibc
import StrataArchive
import StrataEnvironment
import StrataModel
import StrataOCI
import StrataOS
import StrataStore

extension ImageStore {
    /// Writes the image to `output` (`docker save`; replaced only once complete). An OCI
    /// archive carries compressed layers (`compression`, gzip by default; tar layers are
    /// compressed once and remembered); a docker archive carries tars, as `docker save` does.
    public func save(_ text: String, format: ImageArchiveFormat, to output: String,
                     compression: ImageCompression = .gzip) throws(StrataError) {
        let refName = try reference(text)
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
              image.layers.contains(where: { $0.mediaType == LayerBlobCache.tarMediaType }) else { return image.manifestDigest }
        let cache = LayerBlobCache(store: store)
        var layers: [ImageLayer] = []
        for (layer, diffID) in zip(image.layers, image.diffIDs) {
            guard layer.mediaType == LayerBlobCache.tarMediaType else {
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

    /// Reads an image archive (`docker load`: OCI or docker format, as podman, skopeo, docker
    /// or strata wrote it), verifies every blob, stores them and tags the images: as the
    /// archive names them, or as `tag` (an archive with one image only). Returns the tags
    /// set. Nothing is stored or tagged unless the whole archive is sound. A name strata
    /// cannot use is said, not skipped silently; an image with no usable name needs `tag`.
    public func load(_ archive: String, tag: ImageReference?) throws(StrataError) -> [String] {
        guard HostFile.exists(archive) else { throw .input(path: archive, reason: "no such file; give the path of an image archive") }
        let staging = store.temporaryPath("import")
        do { try store.makeTemporaryDirectory(staging) } catch { throw .store(error) }
        defer { removeStaging(staging) }
        let staged: StagedArchive
        do { staged = try ImageArchiveReader.stage(archive: archive, into: staging) } catch { throw .image(error) }
        guard !staged.images.isEmpty else { throw .input(path: archive, reason: "holds no image") }
        if tag != nil, staged.images.count > 1 {
            throw .usage("\(archive) holds \(staged.images.count) images; --tag names one, so load it without --tag")
        }
        var tags: [(String, StagedImage)] = []
        for image in staged.images {
            if let tag {
                tags.append((tag.description, image))
                continue
            }
            var names: [String] = []
            var unusable: [String] = []
            for name in image.refNames {
                // Archives name images as `docker.io/library/x:1`, `localhost/x:1` or a bare tag (`1.0`).
                do { names.append(try ImageReference(parsing: Self.familiarName(name)).description) } catch {
                    unusable.append("\(name) (\(error.reason))")
                }
            }
            guard !names.isEmpty else {
                let named = unusable.isEmpty ? "nothing" : unusable.joined(separator: ", ")
                throw .usage("\(archive) names its image \(named), which is not a NAME[:TAG] strata can tag; give one with --tag")
            }
            for name in unusable {
                context.note("\(archive): the image is also named \(name), which strata cannot use as a tag; it is tagged \(names.joined(separator: ", "))")
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

    func removeStaging(_ path: String) {
        do { try store.discardTemporary(path) } catch { context.note("could not remove \(path): \(error)") }
    }
}

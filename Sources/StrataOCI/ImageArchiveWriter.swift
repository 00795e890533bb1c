import Glibc
import StrataArchive
import StrataJSON
import StrataModel

/// Exports one image of an OCI layout (the store) as a single archive file that other
/// tools load: an OCI image layout tar (`skopeo … oci-archive:`, `umoci` after untarring,
/// `podman load`) or the classic `docker save` format (`docker load`, `podman load`,
/// `skopeo … docker-archive:`).
///
/// Guarantees: every blob written is verified against its digest and size on the way
/// (and every docker-archive layer against its diff id); the same image gives the same
/// archive bytes (fixed entry order, uid/gid 0, mtime 0); the archive appears at
/// `output` complete or not at all (a temporary file beside it, renamed at the end).
public enum ImageArchiveWriter {
    /// Decompressed layers for docker-archive are capped like unpacked ones.
    static let maxLayerBytes = UnpackLimits.default.maxUncompressedBytes

    /// Writes an uncompressed tar of an OCI image layout holding only the image whose
    /// manifest is `manifest` in `layout`: `oci-layout`, `index.json` (one descriptor,
    /// annotated `org.opencontainers.image.ref.name` = `refName` when given), and the
    /// manifest, config and layer blobs as stored (no recompression).
    public static func writeOCILayout(from layout: String, manifest: Digest, refName: String?,
                                      to output: String) throws(OCIError) {
        let image = try OCILayout.image(layout: layout, manifest: manifest)
        var descriptor: [String: JSONValue] = [
            "mediaType": .string(image.manifest.mediaType),
            "digest": .string(image.manifest.digest.description),
            "size": .int(image.manifest.size),
        ]
        if let refName {
            descriptor["annotations"] = .object([OCILayout.refNameAnnotation: .string(refName)])
        }
        let index: JSONValue = .object([
            "schemaVersion": .int(2),
            "mediaType": .string(OCILayout.ociIndexType),
            "manifests": .array([.object(descriptor)]),
        ])
        let tar = try ImageArchiveOutput(path: output)
        try tar.addFile("oci-layout", bytes: JSON.canonicalBytes(.object(["imageLayoutVersion": .string("1.0.0")])))
        try tar.addFile("index.json", bytes: JSON.canonicalBytes(index))
        try tar.addDirectory("blobs/")
        try tar.addDirectory("blobs/sha256/")
        var written: Set<Digest> = []
        for blob in [image.manifest, image.config] + image.layers where written.insert(blob.digest).inserted {
            try tar.addFile("blobs/sha256/" + blob.digest.hex, copying: image.blobPath(blob.digest),
                            size: blob.size, digest: blob.digest)
        }
        try tar.commit()
    }

    /// Writes the classic `docker save` format for the image whose manifest is `manifest`
    /// in `layout`: `<config hex>.json`, each layer uncompressed as `<diff id hex>/layer.tar`
    /// (its sha256 checked against the config's diff id), and `manifest.json`
    /// (`[{"Config", "RepoTags", "Layers"}]`).
    ///
    /// `repoTags` are written as given. Loaders read them as references: `podman load`
    /// turns a short `name:tag` into `docker.io/library/name:tag`, so pass
    /// `localhost/name:tag` for a local image (what podman calls its own builds, and a
    /// name `docker load` keeps as is). No `repositories` file is written: it names
    /// v1 layer ids that only pre-2016 loaders read, and every loader above reads
    /// `manifest.json` instead.
    public static func writeDockerArchive(from layout: String, manifest: Digest, repoTags: [String],
                                          to output: String) throws(OCIError) {
        let image = try OCILayout.image(layout: layout, manifest: manifest)
        let tar = try ImageArchiveOutput(path: output)
        let configName = image.config.digest.hex + ".json"
        try tar.addFile(configName, copying: image.blobPath(image.config.digest),
                        size: image.config.size, digest: image.config.digest)
        var layerNames: [JSONValue] = []
        var written: Set<Digest> = []
        for (layer, diffID) in zip(image.layers, image.diffIDs) {
            let name = diffID.hex + "/layer.tar"
            layerNames.append(.string(name))
            // An image may hold the same layer twice (empty layers do); docker load
            // wants one file it can name twice.
            guard written.insert(diffID).inserted else { continue }
            try tar.addDirectory(diffID.hex + "/")
            try addUncompressed(layer, diffID: diffID, of: image, as: name, to: tar)
        }
        let document: JSONValue = .array([.object([
            "Config": .string(configName),
            "RepoTags": .array(repoTags.map { .string($0) }),
            "Layers": .array(layerNames),
        ])])
        try tar.addFile("manifest.json", bytes: JSON.canonicalBytes(document))
        try tar.commit()
    }

    /// A layer as the plain tar its diff id names: copied when the blob is a plain tar,
    /// else decompressed into a temporary file beside the output first (a tar entry's
    /// size goes in its header, before its bytes).
    private static func addUncompressed(_ layer: OCIDescriptor, diffID: Digest, of image: OCIImage,
                                        as name: String, to tar: ImageArchiveOutput) throws(OCIError) {
        let blob = image.blobPath(layer.digest)
        if layer.mediaType.hasSuffix(".tar") {
            guard layer.digest == diffID else {
                throw .digestMismatch(path: blob, expected: diffID, actual: layer.digest)
            }
            try tar.addFile(name, copying: blob, size: layer.size, digest: diffID)
            return
        }
        // The diff id check below covers every byte the archive gets; hashing the
        // compressed blob as well would read it twice for nothing.
        let plain = tar.scratchPath("layer")
        defer { unlink(plain) }
        let digest: Digest, size: Int64
        do throws(ArchiveError) { (digest, size) = try Decompressor.decompress(fileAt: blob, to: plain, maxBytes: maxLayerBytes) } catch {
            throw .invalid(path: blob, problem: "cannot be decompressed: \(error.reason)")
        }
        guard digest == diffID else {
            throw .invalid(path: blob, problem: "decompresses to \(digest), but the image config names diff id \(diffID)")
        }
        try tar.addFile(name, copying: plain, size: size, digest: diffID)
    }
}

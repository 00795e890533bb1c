import Glibc
import StrataModel
import StrataOS
import StrataOCI

/// Which blob carries a store layer in images: remembered per layer and variant
/// (compression and mtime ceiling), because archiving and compressing a layer costs
/// seconds and store layers never change. `originalVariant` is the image blob a layer
/// was unpacked from. Entries live in the store's `cache/image-layers/`; a missing or
/// damaged entry only costs making the blob again.
struct ImageLayerCache {
    static let originalVariant = "original"
    static let tarMediaType = "application/vnd.oci.image.layer.v1.tar"

    let directory: String

    init(storeRoot: String) { directory = storeRoot + "/cache/image-layers" }

    func lookup(_ key: Digest, variant: String) -> ImageLayer? {
        guard let bytes = try? HostFile.read(path(key, variant), limit: 4096) else { return nil }
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ").map(String.init)
        guard fields.count == 4, let digest = try? Digest(parsing: fields[1]), let size = Int64(fields[2]),
              let diffID = try? Digest(parsing: fields[3]) else { return nil }
        return ImageLayer(mediaType: fields[0], digest: digest, size: size, diffID: diffID)
    }

    /// Failures are ignored: it is a cache.
    func record(_ key: Digest, variant: String, _ layer: ImageLayer) {
        if access(directory, F_OK) != 0 {
            _ = mkdir(String(directory.dropLast("/image-layers".count)), 0o755)
            _ = mkdir(directory, 0o755)
        }
        let text = "\(layer.mediaType) \(layer.digest) \(layer.size) \(layer.diffID)"
        try? HostFile.writeAtomically(Array(text.utf8), to: path(key, variant), mode: 0o644)
    }

    /// Remembers that `layer`'s blob in the store is an OCI layer of `diffID` as it is, when
    /// its bytes are a tar, gzip or zstd (what OCI media types allow); other compressions
    /// a `tar` step may use are archived again when committed.
    func recordOriginal(_ diffID: Digest, blob: Digest, size: Int64, at path: String) {
        guard let mediaType = Self.mediaType(ofBlobAt: path) else { return }
        record(diffID, variant: Self.originalVariant, ImageLayer(mediaType: mediaType, digest: blob, size: size, diffID: diffID))
    }

    static func mediaType(ofBlobAt path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 512)
        let count = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 512, 0) }
        guard count >= 4 else { return nil }
        head.removeLast(512 - count)
        if head[0] == 0x1f && head[1] == 0x8b { return tarMediaType + "+gzip" }
        if head[0..<4].elementsEqual([0x28, 0xb5, 0x2f, 0xfd]) { return tarMediaType + "+zstd" }
        if head.count == 512, head[257..<262].elementsEqual(Array("ustar".utf8)) { return tarMediaType }
        return nil
    }

    private func path(_ key: Digest, _ variant: String) -> String { directory + "/" + key.hex + "-" + variant }
}

import Glibc
import StrataModel
import StrataOS
import StrataOCI
import StrataStore

/// Which blob carries a store layer in images: remembered per layer and variant
/// (compression and mtime ceiling), because archiving and compressing a layer costs
/// seconds and store layers never change. `originalVariant` is the image blob a layer
/// was unpacked from. Entries live in the store's `StoreCache.imageLayers`; a missing or
/// damaged entry only costs making the blob again.
public struct LayerBlobCache: Sendable {
    static let originalVariant = "original"
    static let tarMediaType = "application/vnd.oci.image.layer.v1.tar"

    let store: Store

    public init(store: Store) { self.store = store }

    func lookup(_ key: Digest, variant: String) -> ImageLayer? {
        guard let bytes = store.cached(.imageLayers, entry(key, variant)) else { return nil }
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ").map(String.init)
        guard fields.count == 4, let digest = try? Digest(parsing: fields[1]), let size = Int64(fields[2]),
              let diffID = try? Digest(parsing: fields[3]) else { return nil }
        return ImageLayer(mediaType: fields[0], digest: digest, size: size, diffID: diffID)
    }

    /// A failure only costs making the blob again next time, so it is not reported.
    func record(_ key: Digest, variant: String, _ layer: ImageLayer) {
        let text = "\(layer.mediaType) \(layer.digest) \(layer.size) \(layer.diffID)"
        try? store.storeCached(.imageLayers, entry(key, variant), Array(text.utf8))
    }

    /// Remembers that `layer`'s blob in the store is an OCI layer of `diffID` as it is, when
    /// its bytes are a tar, gzip or zstd (what OCI media types allow); other compressions
    /// a `tar` step may use are archived again when committed.
    public func recordOriginal(_ diffID: Digest, blob: Digest, size: Int64, at path: String) {
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

    private func entry(_ key: Digest, _ variant: String) -> String { key.hex + "-" + variant }
}

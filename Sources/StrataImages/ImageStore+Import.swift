import Glibc
import StrataArchive
import StrataEnvironment
import StrataModel
import StrataOCI
import StrataOS
import StrataStore

/// What `strata image import` makes of a root filesystem tarball.
public struct RootfsImportOptions: Sendable {
    public var reference: ImageReference
    /// Dockerfile instructions (`ENV K=V`, `CMD [...]`, …) applied to the image's config.
    public var changes: [String]
    public var message: String?
    /// SOURCE_DATE_EPOCH: the image's times (else now).
    public var sourceDateEpoch: Int64?

    public init(reference: ImageReference, changes: [String] = [], message: String? = nil, sourceDateEpoch: Int64? = nil) {
        self.reference = reference; self.changes = changes; self.message = message; self.sourceDateEpoch = sourceDateEpoch
    }
}

extension ImageStore {
    /// Largest root filesystem a tarball may decompress to.
    static let maximumRootfsBytes: Int64 = 64 << 30

    /// Makes an image of a root filesystem tarball (`docker import`): one layer holding the
    /// tar as it is (decompressed first when it is gzip, xz, zstd, bzip2 or lz4), a config
    /// with this machine's architecture and `changes` applied, tagged `reference`. Returns
    /// the image's id. Nothing is stored unless the whole file reads as a tar.
    public func importRootfs(_ tarball: String, options: RootfsImportOptions) throws(StrataError) -> Digest {
        var changes: [ImageChange] = []
        for text in options.changes { changes.append(try ImageChange(parsing: text)) }
        guard HostFile.exists(tarball) else { throw .input(path: tarball, reason: "no such file; give the path of a root filesystem tarball") }
        let plain = store.temporaryPath("import-rootfs.tar")
        defer { unlink(plain) }
        let diffID: Digest
        do { (diffID, _) = try Decompressor.decompress(fileAt: tarball, to: plain, maxBytes: Self.maximumRootfsBytes) } catch {
            throw .archive(path: tarball, error)
        }
        try context.cancellation.check()
        // Every header is read, so that a file that is not a tar (or a truncated one) stores nothing.
        do {
            let reader = try TarFileReader(path: plain)
            while try reader.next() != nil {}
        } catch {
            throw .input(path: tarball, reason: "is not a root filesystem tarball (a tar, plain or compressed): \(Self.reason(error))")
        }
        let size: Int64
        do { size = try store.publishBlob(temporaryFile: plain, trusting: diffID) } catch { throw .store(error) }

        var runtime = ImageRuntimeConfig()
        ImageChange.apply(changes, to: &runtime)
        let created = ImageDocuments.timestamp(options.sourceDateEpoch ?? context.now())
        let layer = ImageLayer(mediaType: LayerBlobCache.tarMediaType, digest: diffID, size: size, diffID: diffID)
        let documents = ImageDocuments(
            architecture: Platform.current.architecture, created: created, author: nil, runtime: runtime, layers: [layer],
            history: [ImageHistoryEntry(
                created: created, createdBy: "strata image import" + (changes.isEmpty ? "" : " " + options.changes.joined(separator: "; ")),
                comment: options.message)])
        return try publish(documents, as: options.reference)
    }

    /// Whether `path` holds an image archive (an OCI layout or `docker save` tar) rather
    /// than a root filesystem: it has `oci-layout` or `manifest.json` at its top.
    public func isImageArchive(_ path: String) -> Bool {
        guard let reader = try? TarFileReader(path: path) else { return false }
        while let entry = try? reader.next() {
            guard var name = entry.name else { continue }
            while name.hasPrefix("./") { name.removeFirst(2) }
            if name == "oci-layout" || name == "manifest.json" { return true }
        }
        return false
    }

    private static func reason(_ failure: TarFileReader.Failure) -> String {
        switch failure {
        case .unreadable(let reason), .notATar(let reason), .corrupt(let reason), .cannotWrite(_, let reason): return reason
        case .tooLarge(let limit): return "more than \(limit) bytes"
        }
    }
}

import CArchive
import Glibc
import StrataOS
import StrataModel

/// Compresses a finished layer tar for an OCI image (`application/vnd.oci.image.layer.v1.tar+gzip`
/// or `+zstd`), through libarchive's raw format and its compression filters.
///
/// Deterministic: gzip writes no timestamp and no file name in its header, so the same tar
/// always gives the same blob, and so the same image digest. Owns its `struct archive *`
/// only for the duration of one call.
public enum LayerCompressor {
    public enum Compression: String, Sendable, CaseIterable {
        case gzip
        case zstd

        /// The OCI media type of a layer compressed this way.
        public var mediaType: String { "application/vnd.oci.image.layer.v1.tar+" + rawValue }
    }

    /// Writes `tar` compressed to `output`; returns the compressed blob's sha256 and size.
    public static func compress(_ tar: String, to output: String, with compression: Compression) throws(ArchiveError) -> (digest: Digest, size: Int64) {
        let sink = try HashingFileSink(path: output)
        guard let handle = archive_write_new() else { throw .io(path: output, reason: "libarchive: out of memory") }
        defer { archive_write_free(handle) }
        func failure() -> ArchiveError { sink.failure ?? .io(path: output, reason: libarchiveError(handle)) }

        archive_write_set_format_raw(handle)
        switch compression {
        case .gzip:
            archive_write_add_filter_gzip(handle)
            // No mtime and no name in the header: the blob depends on the tar alone.
            guard archive_write_set_filter_option(handle, "gzip", "timestamp", nil) == ARCHIVE_OK else { throw failure() }
        case .zstd:
            archive_write_add_filter_zstd(handle)
        }
        // Raw output is one stream, not padded to tar blocks.
        archive_write_set_bytes_in_last_block(handle, 1)
        guard sink.attach(handle) == ARCHIVE_OK else { throw failure() }

        guard let entry = archive_entry_new() else { throw .io(path: output, reason: "libarchive: out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
        guard archive_write_header(handle, entry) == ARCHIVE_OK else { throw failure() }

        let fd = open(tar, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: tar, reason: SystemError.text(errno)) }
        let input = FileDescriptor(owning: fd)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input.raw, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path: tar, reason: SystemError.text(errno)) }
            if count == 0 { break }
            let written = buffer.withUnsafeBytes { archive_write_data(handle, $0.baseAddress, count) }
            guard written == count else { throw failure() }
        }
        guard archive_write_close(handle) == ARCHIVE_OK else { throw failure() }
        // This sink was made with a path, so it has a file.
        let file = sink.file?.raw ?? -1
        guard fsync(file) == 0 else { throw .io(path: output, reason: SystemError.text(errno)) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw .io(path: output, reason: SystemError.text(errno)) }
        return (sink.hasher.finalize(), Int64(info.st_size))
    }
}

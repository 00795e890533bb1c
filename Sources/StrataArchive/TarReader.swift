import CArchive
import Glibc

/// A tar-only libarchive reader fed from a `DecompressedStream`: the second half of the
/// chain that lets one pass both hash the uncompressed layer and unpack it.
///
/// Owns one `struct archive *`. Not thread-safe.
final class TarReader {
    let handle: OpaquePointer
    let stream: DecompressedStream

    init(stream: DecompressedStream) throws(ArchiveError) {
        guard let handle = archive_read_new() else {
            throw .unreadable(path: stream.path, reason: "libarchive: out of memory")
        }
        self.handle = handle
        self.stream = stream
        // ustar, pax and GNU tar; nothing else, and no filters: the stream is already plain.
        archive_read_support_format_tar(handle)
        let context = Unmanaged.passUnretained(stream).toOpaque()
        let status = archive_read_open(handle, context, nil, { _, context, buffer in
            guard let context, let buffer else { return -1 }
            let stream = Unmanaged<DecompressedStream>.fromOpaque(context).takeUnretainedValue()
            guard let block = stream.nextBlock() else { return stream.failure == nil ? 0 : -1 }
            buffer.pointee = block.baseAddress
            return block.count
        }, nil)
        guard status == ARCHIVE_OK else { throw failure() }
    }

    deinit { archive_read_free(handle) }

    /// Bytes of the tar stream the reader consumed (after end of archive: up to and
    /// including the end-of-archive blocks).
    var consumed: Int64 { archive_filter_bytes(handle, 0) }

    /// The error to report after a libarchive call on this reader failed: the stream's own
    /// failure (limit, decompression) wins over libarchive's generic read error.
    func failure() -> ArchiveError {
        if let failure = stream.failure { return failure }
        let reason = libarchiveError(handle)
        let entry = stream.currentEntry
        return .corrupt(path: stream.path, reason: entry.isEmpty ? reason : "\(entry): \(reason)")
    }
}

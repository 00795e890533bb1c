import CArchive
import Glibc
import StrataOS
import StrataModel

/// The decompressed bytes of one archive file, read block by block and hashed as they
/// pass, so that the diff id covers exactly what a consumer saw.
///
/// Owns one `struct archive *` (raw format, the compression filters layers use) and the
/// file descriptor it reads. Not thread-safe: one reader drives it.
final class DecompressedStream {
    let path: String
    private let handle: OpaquePointer
    private let file: FileDescriptor
    private let fileSize: Int64
    private let maxBytes: Int64
    private var hasher = SHA256Stream()

    /// Decompressed bytes handed out so far.
    private(set) var total: Int64 = 0
    /// Offset just past the last non-zero byte handed out: anything a tar reader did not
    /// consume must lie before it, or it is trailing garbage.
    private(set) var endOfNonZero: Int64 = 0
    private(set) var reachedEnd = false
    /// Set when a block could not be produced; the tar reader only sees "read error".
    private(set) var failure: ArchiveError?
    /// The tar entry being read, for naming it when a limit is hit mid-entry.
    var currentEntry = ""

    private init(path: String, handle: OpaquePointer, file: FileDescriptor, fileSize: Int64, maxBytes: Int64) {
        self.path = path; self.handle = handle; self.file = file
        self.fileSize = fileSize; self.maxBytes = maxBytes
    }

    deinit { archive_read_free(handle) }

    /// Opens `path` and positions the stream at its first decompressed byte.
    static func open(path: String, maxBytes: Int64) throws(ArchiveError) -> DecompressedStream {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: SystemError.text(errno)) }
        let file = FileDescriptor(owning: fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: SystemError.text(errno)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        guard let handle = archive_read_new() else { throw .unreadable(path: path, reason: "libarchive: out of memory") }
        let stream = DecompressedStream(path: path, handle: handle, file: file, fileSize: Int64(st.st_size), maxBytes: maxBytes)
        // Only the compressions layers use; "raw" so that no archive format is guessed here.
        archive_read_support_format_raw(handle)
        archive_read_support_filter_gzip(handle)
        archive_read_support_filter_xz(handle)
        archive_read_support_filter_zstd(handle)
        archive_read_support_filter_bzip2(handle)
        archive_read_support_filter_lz4(handle)
        guard archive_read_open_fd(handle, fd, 1 << 16) == ARCHIVE_OK else {
            throw .corrupt(path: path, reason: libarchiveError(handle))
        }
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        guard status == ARCHIVE_OK else {
            throw .corrupt(path: path, reason: status == ARCHIVE_EOF ? "empty file" : libarchiveError(handle))
        }
        return stream
    }

    /// The next decompressed block (valid until the next call), or nil at the end or on
    /// failure (see `failure`).
    func nextBlock() -> UnsafeRawBufferPointer? {
        guard !reachedEnd, failure == nil else { return nil }
        while true {
            var buffer: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let status = archive_read_data_block(handle, &buffer, &size, &offset)
            if status == ARCHIVE_EOF {
                finishAtEnd()
                return nil
            }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let buffer else {
                failure = .corrupt(path: path, reason: libarchiveError(handle))
                return nil
            }
            // The raw format hands out a contiguous stream; a gap would mean a hole the
            // hash did not cover.
            guard offset == total else {
                failure = .corrupt(path: path, reason: "decompressed stream is not contiguous at byte \(total)")
                return nil
            }
            if size == 0 { continue }
            guard total + Int64(size) <= maxBytes else {
                failure = .limitExceeded(entry: currentEntry.isEmpty ? path : currentEntry,
                                         limit: "more than \(maxBytes) uncompressed bytes")
                return nil
            }
            let block = UnsafeRawBufferPointer(start: buffer, count: size)
            hasher.update(block)
            if let last = block.lastIndex(where: { $0 != 0 }) {
                endOfNonZero = total + Int64(last) + 1
            }
            total += Int64(size)
            return block
        }
    }

    /// Reads (and hashes) whatever the consumer left, so the digest covers the whole stream.
    func drain() throws(ArchiveError) {
        while nextBlock() != nil {}
        if let failure { throw failure }
    }

    /// The sha256 of the whole decompressed stream; call after `drain()`.
    func digest() -> Digest { hasher.finalize() }

    private func finishAtEnd() {
        reachedEnd = true
        // Decompressors stop at the end of their stream and quietly ignore what follows;
        // bytes left over in the file are trailing garbage.
        let consumed = archive_filter_bytes(handle, -1)
        if archive_filter_count(handle) > 1 && consumed < fileSize {
            failure = .corrupt(path: path, reason: "\(fileSize - consumed) bytes of trailing garbage after the compressed stream")
        }
    }
}

func libarchiveError(_ handle: OpaquePointer) -> String {
    if let text = archive_error_string(handle) { return String(cString: text) }
    return "libarchive error \(archive_errno(handle))"
}


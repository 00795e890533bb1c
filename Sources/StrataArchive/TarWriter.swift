import CLinux
import CArchive
import Glibc
import StrataOS
import StrataModel

/// Where a `TarWriter`'s bytes go: a file, hashed on the way.
final class HashingFileSink {
    let path: String
    let file: FileDescriptor?
    var hasher = SHA256Stream()
    var failure: ArchiveError?
    /// Bytes written, and how many of them the kernel was already asked to write back.
    private var written: Int64 = 0
    private var flushed: Int64 = 0
    /// Writeback is started every this many bytes, so that the fsync that publishes a
    /// big blob (a 200 MB session layer) waits for the last few megabytes only, while
    /// the disk works in parallel with the archiving.
    static let writebackChunk: Int64 = 8 << 20

    init(path: String) throws(ArchiveError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: SystemError.text(errno)) }
        self.path = path
        file = FileDescriptor(owning: fd)
    }

    /// A sink that only hashes (`digestOnly`): the bytes go nowhere.
    private init(hashing display: String) {
        path = display
        file = nil
    }

    static func digestOnly(_ display: String) -> HashingFileSink { HashingFileSink(hashing: display) }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while let file, done < bytes.count {
            let count = Glibc.write(file.raw, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { failure = .io(path: path, reason: SystemError.text(errno)); return false }
            done += count
        }
        hasher.update(bytes)
        written += Int64(bytes.count)
        if let file, written - flushed >= Self.writebackChunk {
            // Only starts writeback (no waiting); a failure here shows up at fsync.
            _ = CLinux.sync_file_range(file.raw, flushed, written - flushed, UInt32(STRATA_SYNC_FILE_RANGE_WRITE))
            flushed = written
        }
        return true
    }

    /// `archive_write_open` on `handle` with this sink as its output. The caller keeps
    /// the sink alive until the archive is closed.
    func attach(_ handle: OpaquePointer) -> Int32 {
        archive_write_open(handle, Unmanaged.passUnretained(self).toOpaque(), nil, { _, context, buffer, length in
            guard let context, let buffer else { return -1 }
            let sink = Unmanaged<HashingFileSink>.fromOpaque(context).takeUnretainedValue()
            return sink.write(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : -1
        }, nil)
    }
}

/// A libarchive PAX (restricted: ustar unless an entry needs more) tar writer into a
/// `HashingFileSink`. Owns one `struct archive *`. Not thread-safe.
final class TarWriter {
    let handle: OpaquePointer
    let sink: HashingFileSink
    private var closed = false

    init(sink: HashingFileSink) throws(ArchiveError) {
        guard let handle = archive_write_new() else { throw .io(path: sink.path, reason: "libarchive: out of memory") }
        self.handle = handle
        self.sink = sink
        archive_write_set_format_pax_restricted(handle)
        archive_write_add_filter_none(handle)
        guard sink.attach(handle) == ARCHIVE_OK else { throw failure() }
    }

    deinit { archive_write_free(handle) }

    func failure() -> ArchiveError {
        sink.failure ?? .io(path: sink.path, reason: libarchiveError(handle))
    }

    /// Writes the end-of-archive blocks and returns the sha256 of every byte written.
    func close() throws(ArchiveError) -> Digest {
        guard archive_write_close(handle) == ARCHIVE_OK else { throw failure() }
        closed = true
        if let file = sink.file, fsync(file.raw) != 0 { throw .io(path: sink.path, reason: SystemError.text(errno)) }
        return sink.hasher.finalize()
    }
}

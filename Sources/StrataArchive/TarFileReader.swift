import CArchive
import Glibc
import StrataModel
import StrataOS

/// The entries of a tar file, plain or compressed, read in one pass (an image archive
/// that `docker save`, `podman save` or `skopeo copy` wrote).
///
/// Tar only, never another format; the decompressors are the library-backed ones
/// (gzip, bzip2, xz, lzma, zstd, lz4): libarchive's `filter_all` would also run external
/// programs (lrzip, lzop, grzip) on a match. Entry data is only ever copied to a
/// descriptor the caller opened, so no entry name becomes a path here. Owns the file's
/// descriptor and one `struct archive *`. Not thread-safe.
public final class TarFileReader {
    public struct Entry: Sendable {
        /// The entry's name; nil when it is not UTF-8 or longer than the reader's `maxNameBytes`.
        public let name: String?
        /// `S_IFREG`, `S_IFDIR`, `S_IFLNK`… (the `S_IFMT` bits).
        public let type: mode_t
        /// A hard link to an earlier entry (tar's link type; `type` is then that of a file).
        public let isHardlink: Bool
    }

    /// Why reading failed; the caller knows the archive and adds it.
    public enum Failure: Error, Equatable, Sendable {
        case unreadable(reason: String)
        /// Not a tar, plain or compressed (nothing readable before the first header).
        case notATar(reason: String)
        /// Truncated or damaged after the first entry.
        case corrupt(reason: String)
        /// The data of the entries went over the caller's byte limit.
        case tooLarge(limit: Int64)
        case cannotWrite(path: String, reason: String)
    }

    public let maxNameBytes: Int
    private let file: FileDescriptor
    private let handle: OpaquePointer
    /// Headers read so far.
    public private(set) var entriesRead = 0

    /// Opens a regular file (anything else is `unreadable`).
    public init(path: String, maxNameBytes: Int = 4096) throws(Failure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(reason: SystemError.text(errno)) }
        file = FileDescriptor(owning: fd)
        let info: stat
        do { info = try file.status(display: path) } catch { throw .unreadable(reason: error.reason) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(reason: "not a regular file") }
        guard let handle = archive_read_new() else { throw .unreadable(reason: "libarchive is out of memory") }
        self.handle = handle
        self.maxNameBytes = maxNameBytes
        archive_read_support_format_tar(handle)
        archive_read_support_filter_gzip(handle)
        archive_read_support_filter_bzip2(handle)
        archive_read_support_filter_xz(handle)
        archive_read_support_filter_lzma(handle)
        archive_read_support_filter_zstd(handle)
        archive_read_support_filter_lz4(handle)
        guard archive_read_open_fd(handle, fd, 1 << 16) == ARCHIVE_OK else {
            throw .notATar(reason: libarchiveError(handle))
        }
    }

    deinit { archive_read_free(handle) }

    /// The next entry's header, or nil at the end of the archive.
    public func next() throws(Failure) -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
            throw entriesRead == 0 ? .notATar(reason: libarchiveError(handle)) : .corrupt(reason: libarchiveError(handle))
        }
        entriesRead += 1
        var name: String?
        if let raw = archive_entry_pathname(entry), strlen(raw) <= maxNameBytes { name = String(validatingCString: raw) }
        return Entry(name: name, type: mode_t(archive_entry_filetype(entry)) & S_IFMT,
                     isHardlink: archive_entry_hardlink(entry) != nil)
    }

    /// Copies the current entry's data to `fd` (`display` names it in errors), hashing it
    /// on the way; more than `limit` bytes is `tooLarge`. Returns the digest, the size and
    /// the first `headBytes` bytes.
    public func copyData(to fd: Int32, display: String, limit: Int64,
                         headBytes: Int = 8) throws(Failure) -> (digest: Digest, size: Int64, head: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256Stream()
        var size: Int64 = 0
        var head: [UInt8] = []
        while true {
            let got = archive_read_data(handle, buffer.baseAddress, buffer.count)
            if got == 0 { break }
            guard got > 0 else { throw .corrupt(reason: libarchiveError(handle)) }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<got])
            size += Int64(got)
            guard size <= limit else { throw .tooLarge(limit: limit) }
            if head.count < headBytes { head += chunk.prefix(headBytes - head.count) }
            hasher.update(chunk)
            do { try FileSystem.writeAll(fd, chunk, display: display) } catch {
                throw .cannotWrite(path: display, reason: error.reason)
            }
        }
        return (hasher.finalize(), size, head)
    }
}

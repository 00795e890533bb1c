import CArchive
import Glibc
import StrataModel
import StrataOS

/// A deterministic, uncompressed tar being written to a temporary file beside its final
/// path, and renamed there only by `commit()`: until then (and if it is dropped) nothing
/// exists at the final path, and the temporary file is removed when the writer goes away.
///
/// Deterministic: entries come in the order they are added, with mode 0644 (files) or
/// 0755 (directories), uid/gid 0, no owner names and mtime 0. Owns one `struct archive *`
/// and the temporary file's descriptor. Not thread-safe.
public final class TarFileWriter {
    /// Why writing failed; `path` is the archive, or the file being copied into it.
    public enum Failure: Error, Equatable, Sendable {
        case cannotWrite(path: String, reason: String)
        case unreadable(path: String, reason: String)
        /// A copied file did not have the size it was said to have.
        case sizeChanged(path: String, expected: Int64, actual: Int64)
    }

    public let path: String
    private let temporary: String
    private let handle: OpaquePointer
    private let file: FileDescriptor
    private var finished = false

    public init(path: String) throws(Failure) {
        let (directory, base) = FileSystem.split(path)
        // O_EXCL on a random name: two exports to the same place never share a temporary.
        let temporary = FileSystem.temporaryName(in: directory, for: base)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: SystemError.text(errno)) }
        let file = FileDescriptor(owning: fd)
        guard let handle = archive_write_new() else {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: "libarchive is out of memory")
        }
        self.path = path; self.temporary = temporary; self.handle = handle; self.file = file
        archive_write_set_format_pax_restricted(handle)
        archive_write_add_filter_none(handle)
        guard archive_write_open_fd(handle, fd) == ARCHIVE_OK else { throw failure() }
    }

    deinit {
        archive_write_free(handle)
        if !finished { unlink(temporary) }
    }

    public func addDirectory(_ name: String) throws(Failure) {
        try header(name, type: S_IFDIR, mode: 0o755, size: 0)
    }

    public func addFile(_ name: String, bytes: [UInt8]) throws(Failure) {
        try header(name, type: S_IFREG, mode: 0o644, size: Int64(bytes.count))
        let written = bytes.withUnsafeBytes { archive_write_data(handle, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw failure() }
    }

    /// Copies the regular file at `source`, which must be exactly `size` bytes, as entry
    /// `name`; returns the sha256 of what was copied, for the caller to check.
    public func addFile(_ name: String, copying source: String, size: Int64) throws(Failure) -> Digest {
        let input: FileDescriptor
        do { input = try FileDescriptor.open(source, O_RDONLY | O_NOFOLLOW) } catch {
            throw .unreadable(path: source, reason: error.reason)
        }
        let info: stat
        do { info = try input.status(display: source) } catch { throw .unreadable(path: source, reason: error.reason) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: source, reason: "not a regular file") }
        guard Int64(info.st_size) == size else { throw .sizeChanged(path: source, expected: size, actual: Int64(info.st_size)) }
        try header(name, type: S_IFREG, mode: 0o644, size: size)
        var hasher = SHA256Stream()
        var copied: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while copied < size {
            let count = read(input.raw, buffer.baseAddress!, Int(min(Int64(buffer.count), size - copied)))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path: source, reason: SystemError.text(errno)) }
            guard count > 0 else { throw .sizeChanged(path: source, expected: size, actual: copied) }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            hasher.update(chunk)
            guard archive_write_data(handle, chunk.baseAddress, count) == count else { throw failure() }
            copied += Int64(count)
        }
        return hasher.finalize()
    }

    /// Ends the tar, makes it durable and renames it to `path` (its directory synced too).
    public func commit() throws(Failure) {
        guard archive_write_close(handle) == ARCHIVE_OK else { throw failure() }
        guard fsync(file.raw) == 0 else { throw .cannotWrite(path: path, reason: SystemError.text(errno)) }
        do { try FileSystem.rename(temporary, to: path, durable: true) } catch {
            if FileSystem.exists(temporary) { throw .cannotWrite(path: path, reason: error.reason) }
            // Renamed, but the directory could not be synced: the archive is there.
        }
        finished = true
    }

    private func header(_ name: String, type: mode_t, mode: mode_t, size: Int64) throws(Failure) {
        guard let entry = archive_entry_new() else { throw .cannotWrite(path: path, reason: "libarchive is out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, UInt32(type))
        archive_entry_set_perm(entry, mode)
        archive_entry_set_size(entry, size)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_mtime(entry, 0, 0)
        guard archive_write_header(handle, entry) == ARCHIVE_OK else { throw failure() }
    }

    private func failure() -> Failure {
        .cannotWrite(path: path, reason: libarchiveError(handle))
    }
}

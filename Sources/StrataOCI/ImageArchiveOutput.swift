import CArchive
import Glibc
import StrataModel

/// A deterministic, uncompressed tar being written to a temporary file beside its final
/// path, and renamed there only by `commit()`: until then (and if it is dropped) nothing
/// exists at the final path, and the temporary file is removed when the writer goes away.
///
/// Deterministic: entries come in the order they are added, with mode 0644 (files) or
/// 0755 (directories), uid/gid 0, no owner names and mtime 0. Owns one `struct archive *`
/// and the temporary file's descriptor. Not thread-safe.
final class ImageArchiveOutput {
    let path: String
    let temporary: String
    private let handle: OpaquePointer
    private let fd: Int32
    private var finished = false

    init(path: String) throws(OCIError) {
        let (directory, base) = splitPath(path)
        guard !base.isEmpty else { throw .invalid(path: path, problem: "names a directory, not an archive file to write") }
        // O_EXCL on a random name: two exports to the same place never share a temporary.
        let temporary = directory + "/." + base + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .invalid(path: path, problem: "cannot be written: \(errnoText())") }
        guard let handle = archive_write_new() else {
            close(fd); unlink(temporary)
            throw .invalid(path: path, problem: "cannot be written: libarchive is out of memory")
        }
        self.path = path; self.temporary = temporary; self.handle = handle; self.fd = fd
        archive_write_set_format_pax_restricted(handle)
        archive_write_add_filter_none(handle)
        guard archive_write_open_fd(handle, fd) == ARCHIVE_OK else { throw failure() }
    }

    deinit {
        archive_write_free(handle)
        close(fd)
        if !finished { unlink(temporary) }
    }

    func addDirectory(_ name: String) throws(OCIError) {
        try header(name, type: S_IFDIR, mode: 0o755, size: 0)
    }

    func addFile(_ name: String, bytes: [UInt8]) throws(OCIError) {
        try header(name, type: S_IFREG, mode: 0o644, size: Int64(bytes.count))
        let written = bytes.withUnsafeBytes { archive_write_data(handle, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw failure() }
    }

    /// Copies the file at `source` as entry `name`, checking on the way that it is exactly
    /// `size` bytes hashing to `digest` (store blobs are trusted only as far as they verify).
    func addFile(_ name: String, copying source: String, size: Int64, digest: Digest) throws(OCIError) {
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw .unreadable(path: source, reason: errnoText()) }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw .unreadable(path: source, reason: errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: source, reason: "not a regular file") }
        guard Int64(info.st_size) == size else {
            throw .invalid(path: source, problem: "is \(info.st_size) bytes, its descriptor says \(size)")
        }
        try header(name, type: S_IFREG, mode: 0o644, size: size)
        var hasher = SHA256Stream()
        var copied: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while copied < size {
            let count = read(input, buffer.baseAddress!, Int(min(Int64(buffer.count), size - copied)))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path: source, reason: errnoText()) }
            guard count > 0 else { throw .invalid(path: source, problem: "shrank to \(copied) bytes while it was exported") }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            hasher.update(chunk)
            guard archive_write_data(handle, chunk.baseAddress, count) == count else { throw failure() }
            copied += Int64(count)
        }
        let actual = hasher.finalize()
        guard actual == digest else { throw .digestMismatch(path: source, expected: digest, actual: actual) }
    }

    /// Ends the tar, makes it durable and renames it to `path`.
    func commit() throws(OCIError) {
        guard archive_write_close(handle) == ARCHIVE_OK else { throw failure() }
        guard fsync(fd) == 0 else { throw .invalid(path: path, problem: "cannot be written: \(errnoText())") }
        guard rename(temporary, path) == 0 else {
            throw .invalid(path: path, problem: "cannot be written: \(errnoText())")
        }
        finished = true
        // The rename itself survives a crash only once the directory is synced.
        let directory = open(splitPath(path).directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    private func header(_ name: String, type: mode_t, mode: mode_t, size: Int64) throws(OCIError) {
        guard let entry = archive_entry_new() else { throw .invalid(path: path, problem: "cannot be written: libarchive is out of memory") }
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

    private func failure() -> OCIError {
        let reason = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(archive_errno(handle))"
        return .invalid(path: path, problem: "cannot be written: \(reason)")
    }
}

/// `path` split at its last `/` ("." when it has none).
func splitPath(_ path: String) -> (directory: String, base: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

import CLinux
import Glibc

/// The file operations strata's modules are built from, each failure a `SystemError`
/// naming the path. Modes given are the modes that result, whatever the umask.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `lstat(2)`; nil when nothing is at `path`.
    public static func status(_ path: String) throws(SystemError) -> stat? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError("lstat", path: path)
        }
        return info
    }

    /// mkdir(2) that accepts an existing entry (a later open reports it if it is not a
    /// directory). Returns whether this call created it.
    @discardableResult
    public static func makeDirectory(_ path: String, mode: mode_t) throws(SystemError) -> Bool {
        if mkdir(path, mode) == 0 {
            // mkdir's mode is filtered by the umask; callers' modes are part of their contracts.
            guard chmod(path, mode) == 0 else { throw SystemError("chmod", path: path) }
            return true
        }
        let code = errno
        if code == EEXIST { return false }
        throw SystemError("mkdir", path: path, errno: code)
    }

    /// Creates `path` and any missing parents, each with `mode`.
    public static func makeDirectories(_ path: String, mode: mode_t) throws(SystemError) {
        if mkdir(path, mode) == 0 {
            guard chmod(path, mode) == 0 else { throw SystemError("chmod", path: path) }
            return
        }
        let code = errno
        if code == EEXIST { return }
        guard code == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SystemError("mkdir", path: path, errno: code)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        try makeDirectory(path, mode: mode)
    }

    /// `writeAll` of an array.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], display: String) throws(SystemError) {
        let result: Result<Void, SystemError> = bytes.withUnsafeBytes { buffer in
            do throws(SystemError) { try writeAll(fd, buffer, display: display) } catch { return .failure(error) }
            return .success(())
        }
        try result.get()
    }

    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, display: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", path: display)
            }
            offset += n
        }
    }

    /// Writes a new file (it must not exist), fsyncs it when `durable`, and closes it;
    /// on failure nothing is left at `path`.
    public static func createFile(_ path: String, contents: [UInt8], mode: mode_t, durable: Bool = true) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        var failure: SystemError?
        contents.withUnsafeBytes { buffer in
            do throws(SystemError) { try writeAll(fd, buffer, display: path) } catch { failure = error }
        }
        if failure == nil, fchmod(fd, mode) != 0 { failure = SystemError("fchmod", path: path) }
        if failure == nil, durable, fsync(fd) != 0 { failure = SystemError("fsync", path: path) }
        if close(fd) != 0, failure == nil { failure = SystemError("close", path: path) }
        if let failure {
            unlink(path)
            throw failure
        }
    }

    /// A whole small file; nil when it does not exist. More than `limit` bytes is EFBIG.
    public static func readFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8]? {
        do { return try HostFile.read(path, limit: limit, followSymlinks: false) } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
    }

    /// rename(2). With `durable`, the directory that now holds `to` is fsynced, so the
    /// rename survives a power loss (the renamed object itself must already be durable).
    public static func rename(_ from: String, to: String, durable: Bool = false) throws(SystemError) {
        guard Glibc.rename(from, to) == 0 else { throw SystemError("rename from \(from)", path: to) }
        if durable { try syncDirectory(parent(of: to)) }
    }

    /// fsync(2) of a directory, so that entries renamed into it survive a power loss.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError("fsync", path: path) }
    }

    /// Flushes the file system holding `path`: an unpacked tree has too many files to
    /// fsync one by one before it is renamed into place.
    public static func syncFileSystem(containing path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        guard syncfs(fd) == 0 else { throw SystemError("syncfs", path: path) }
    }

    /// The directory part of `path` ("." when it has none, "/" for a top-level entry).
    public static func parent(of path: String) -> String {
        split(path).directory
    }

    /// `path` split at its last `/`, trailing slashes ignored.
    public static func split(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let directory = slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
        return (directory, String(trimmed[trimmed.index(after: slash)...]))
    }

    /// Lowercase hex of `count` random bytes from the system CSPRNG (getrandom).
    public static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let table = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for _ in 0..<count {
            let byte = UInt8.random(in: 0...255, using: &generator)
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A name nothing else uses for a temporary file in `directory`: hidden, with this
    /// process's id and random hex, so a crashed writer's leftover is recognisable.
    public static func temporaryName(in directory: String, for name: String) -> String {
        (directory == "/" ? "" : directory) + "/." + name + ".tmp-\(getpid())-" + randomHex(bytes: 6)
    }
}

extension FileSystem {
    /// Copies the entry `name` of the directory `source` into the directory `target` under
    /// the same name (which must not exist there): a regular file's bytes, or a symlink;
    /// with its mode, owner and modification time. Anything else (devices, fifos, sockets)
    /// is skipped, as `cp -r` without `-a` would refuse it. `display` names the entry.
    public static func copyEntry(_ name: String, from source: Int32, to target: Int32, display: String) throws(SystemError) {
        var info = stat()
        guard fstatat(source, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemError("fstatat", path: display) }
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlinkat(source, name, &buffer, buffer.count - 1)
            guard length >= 0 else { throw SystemError("readlink", path: display) }
            buffer[length] = 0
            guard symlinkat(buffer, target, name) == 0 else { throw SystemError("symlink", path: display) }
        case S_IFREG:
            let input = openat(source, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard input >= 0 else { throw SystemError("open", path: display) }
            defer { close(input) }
            let output = openat(target, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard output >= 0 else { throw SystemError("create", path: display) }
            defer { close(output) }
            var left = Int(info.st_size)
            while left > 0 {
                let copied = Int(copy_file_range(input, nil, output, nil, UInt(left), 0))
                if copied < 0 && errno == EINTR { continue }
                guard copied > 0 else { throw SystemError("copy_file_range", path: display) }
                left -= copied
            }
            guard fchown(output, info.st_uid, info.st_gid) == 0 else { throw SystemError("chown", path: display) }
            guard fchmod(output, info.st_mode & 0o7777) == 0 else { throw SystemError("chmod", path: display) }
        default:
            return
        }
        guard fchownat(target, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemError("chown", path: display) }
        var times = [info.st_atim, info.st_mtim]
        guard utimensat(target, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemError("utimensat", path: display) }
    }
}

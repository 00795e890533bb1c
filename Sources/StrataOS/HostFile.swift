import Glibc

/// Whole small files on the host: manifests, lockfiles, OCI documents, records.
public enum HostFile {
    /// The whole file, refusing anything larger than `limit` bytes (EFBIG) and directories (EISDIR).
    public static func read(_ path: String, limit: Int = 256 << 20, followSymlinks: Bool = true) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError("fstat", path: path) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw SystemError("read", path: path, errno: EISDIR) }
        if Int(info.st_size) > limit { throw SystemError("read", path: path, errno: EFBIG) }
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0))
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: 4096)) }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { break }
            filled += n
            if filled > limit { throw SystemError("read", path: path, errno: EFBIG) }
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    /// Replaces `path` atomically: the bytes go to a new file in `temporaryDirectory`
    /// (which must be on the same file system; default: `path`'s own directory, under a
    /// hidden name), are fsynced, renamed over `path`, and the directory is fsynced. A
    /// crash leaves `path` as it was or as it is now, never half-written; a leftover can
    /// only be in `temporaryDirectory`.
    ///
    /// Not `durable`: no fsync, for files a crash may lose (a record of what a run did):
    /// still whole or absent, never half-written, but perhaps the older version.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, temporaryDirectory: String? = nil,
                                       mode: mode_t = 0o644, durable: Bool = true) throws(SystemError) {
        let (directory, name) = FileSystem.split(path)
        let temporary = FileSystem.temporaryName(in: temporaryDirectory ?? directory, for: name)
        try FileSystem.createFile(temporary, contents: bytes, mode: mode, durable: durable)
        do throws(SystemError) { try FileSystem.rename(temporary, to: path, durable: durable) } catch {
            unlink(temporary)
            throw error
        }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

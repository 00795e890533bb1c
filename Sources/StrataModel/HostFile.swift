import Glibc

/// Reads and writes small whole files on the host (manifests, lockfiles, OCI
/// documents). Errors carry the path and the errno text.
public enum HostFile {
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var path: String
        public var errno: Int32
        public init(path: String, errno: Int32) { self.path = path; self.errno = errno }
        public var reason: String { String(cString: strerror(errno)) }
        public var description: String { "\(path): \(reason)" }
    }

    /// The whole file, refusing anything larger than `limit` bytes.
    public static func read(_ path: String, limit: Int = 256 << 20) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure(path: path, errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw Failure(path: path, errno: EISDIR) }
        if Int(st.st_size) > limit { throw Failure(path: path, errno: EFBIG) }
        var bytes = [UInt8](repeating: 0, count: max(Int(st.st_size), 0))
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: 4096)) }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, errno: errno)
            }
            if n == 0 { break }
            filled += n
            if filled > limit { throw Failure(path: path, errno: EFBIG) }
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    /// Replaces `path` atomically: a temporary file beside it, fsync, rename.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(Failure) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: temporary, errno: errno) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let saved = errno
                close(fd); unlink(temporary)
                throw Failure(path: temporary, errno: saved)
            }
            written += n
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            let saved = errno
            unlink(temporary)
            throw Failure(path: temporary, errno: saved)
        }
        if rename(temporary, path) != 0 {
            let saved = errno
            unlink(temporary)
            throw Failure(path: path, errno: saved)
        }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

extension HostFile {
    /// sha256 and size of a file's bytes, read in 1 MiB blocks.
    public static func digest(of path: String) throws(Failure) -> (digest: Digest, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, errno: errno) }
        defer { close(fd) }
        var hasher = SHA256Stream()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, errno: errno)
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            size += Int64(n)
        }
        return (hasher.finalize(), size)
    }
}

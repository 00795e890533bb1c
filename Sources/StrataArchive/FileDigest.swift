import Glibc
import StrataModel
import StrataOS

/// The sha256 and size of a file's bytes (a tarball a `tar` step pins), read in 1 MiB blocks.
public enum FileDigest {
    public static func of(_ path: String) throws(SystemError) -> (digest: Digest, size: Int64) {
        try hash(try FileDescriptor.open(path, O_RDONLY), path: path)
    }

    /// The file at the NUL-terminated `raw` path (names in layers need not be UTF-8), not
    /// following a symlink there; `path` is for messages.
    public static func of(_ path: String, raw: [CChar]) throws(SystemError) -> (digest: Digest, size: Int64) {
        let fd = Glibc.open(raw, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        return try hash(FileDescriptor(owning: fd), path: path)
    }

    private static func hash(_ file: FileDescriptor, path: String) throws(SystemError) -> (digest: Digest, size: Int64) {
        var hasher = SHA256Stream()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(file.raw, buffer.baseAddress!, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            size += Int64(n)
        }
        return (hasher.finalize(), size)
    }
}

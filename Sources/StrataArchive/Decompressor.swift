import Glibc
import StrataOS
import StrataModel

/// Decompresses one file (gzip, xz, zstd, bzip2, lz4 or none) into another: for
/// index files such as Debian's `Packages.xz`, which are parsed many times and
/// decompressed once.
public enum Decompressor {
    /// Writes the decompressed bytes of `path` to `output` (created, mode 0644) and
    /// returns their sha256 and size. On error `output` is removed.
    public static func decompress(fileAt path: String, to output: String, maxBytes: Int64) throws(ArchiveError) -> (Digest, Int64) {
        let stream = try DecompressedStream.open(path: path, maxBytes: maxBytes)
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .io(path: output, reason: SystemError.text(errno)) }
        let file = FileDescriptor(owning: fd)
        do throws(ArchiveError) {
            while let block = stream.nextBlock() {
                var offset = 0
                while offset < block.count {
                    let n = write(file.raw, block.baseAddress! + offset, block.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw .io(path: output, reason: SystemError.text(errno))
                    }
                    offset += n
                }
            }
            if let failure = stream.failure { throw failure }
        } catch {
            unlink(output)
            throw error
        }
        return (stream.digest(), stream.total)
    }
}

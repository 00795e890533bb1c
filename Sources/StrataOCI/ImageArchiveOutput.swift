import Glibc
import StrataArchive
import StrataModel
import StrataOS

/// An image archive being written: a deterministic tar (`TarFileWriter`) that appears at
/// `path` only when `commit()` succeeds, whose copied blobs are checked against their
/// digests on the way (store blobs are trusted only as far as they verify).
final class ImageArchiveOutput {
    let path: String
    private let tar: TarFileWriter

    init(path: String) throws(OCIError) {
        self.path = path
        guard !path.hasSuffix("/") else { throw .invalid(path: path, problem: "names a directory, not an archive file to write") }
        do { tar = try TarFileWriter(path: path) } catch { throw Self.error(error) }
    }

    func addDirectory(_ name: String) throws(OCIError) {
        do { try tar.addDirectory(name) } catch { throw Self.error(error) }
    }

    func addFile(_ name: String, bytes: [UInt8]) throws(OCIError) {
        do { try tar.addFile(name, bytes: bytes) } catch { throw Self.error(error) }
    }

    /// Copies the file at `source` as entry `name`, checking that it is exactly `size`
    /// bytes hashing to `digest`.
    func addFile(_ name: String, copying source: String, size: Int64, digest: Digest) throws(OCIError) {
        let actual: Digest
        do { actual = try tar.addFile(name, copying: source, size: size) } catch { throw Self.error(error) }
        guard actual == digest else { throw .digestMismatch(path: source, expected: digest, actual: actual) }
    }

    /// A fresh name beside the output for a scratch file (a layer decompressed before it
    /// is added: a tar entry's size goes in its header, before its bytes).
    func scratchPath(_ hint: String) -> String {
        let (directory, name) = FileSystem.split(path)
        return FileSystem.temporaryName(in: directory, for: name + "." + hint)
    }

    /// Ends the tar, makes it durable and renames it to `path`.
    func commit() throws(OCIError) {
        do { try tar.commit() } catch { throw Self.error(error) }
    }

    private static func error(_ failure: TarFileWriter.Failure) -> OCIError {
        switch failure {
        case .cannotWrite(let path, let reason): return .invalid(path: path, problem: "cannot be written: \(reason)")
        case .unreadable(let path, let reason): return .unreadable(path: path, reason: reason)
        case .sizeChanged(let path, let expected, let actual):
            return .invalid(path: path, problem: actual < expected
                ? "shrank to \(actual) bytes while it was exported" : "is \(actual) bytes, its descriptor says \(expected)")
        }
    }
}

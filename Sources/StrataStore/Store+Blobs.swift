import Glibc
import StrataOS
import StrataModel

extension Store {
    /// Bytes read per system call while copying and hashing blobs.
    static let copyBufferSize = 1 << 20

    public func blobPath(_ digest: Digest) -> String { root + "/blobs/sha256/" + digest.hex }

    public func hasBlob(_ digest: Digest) -> Bool { FileSystem.exists(blobPath(digest)) }

    /// Copies the file at `path` into the store as blob `digest`, hashing while copying;
    /// publishes only if size (when given) and digest match. A blob already present
    /// is not copied again (it was verified when it was published).
    public func ingestBlob(copying path: String, expected digest: Digest, size: Int64? = nil) throws(StoreError) {
        if hasBlob(digest) { return }
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw StoreError.system(path, "open") }
        defer { close(source) }
        if let size {
            var info = stat()
            // A regular file's size is known up front: refuse before copying anything.
            if fstat(source, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) != size {
                throw .sizeMismatch(digest: digest, expected: size, actual: Int64(info.st_size), source: path)
            }
        }
        let temporary = temporaryPath("blob-" + digest.short)
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o444)
        guard output >= 0 else { throw StoreError.system(temporary, "open") }
        var outputOpen = true
        do throws(StoreError) {
            let (actual, count) = try Store.copyAndHash(
                from: source, sourcePath: path, to: output, outputPath: temporary, limit: size)
            if let size, count != size {
                throw .sizeMismatch(digest: digest, expected: size, actual: count, source: path)
            }
            guard actual == digest else { throw .digestMismatch(expected: digest, actual: actual, source: path) }
            guard fsync(output) == 0 else { throw StoreError.system(temporary, "fsync") }
            outputOpen = false
            guard close(output) == 0 else { throw StoreError.system(temporary, "close") }
            try io(try FileSystem.rename(temporary, to: blobPath(digest), durable: true))
        } catch {
            if outputOpen { close(output) }
            unlink(temporary)
            throw error
        }
    }

    /// Stores `bytes` and returns their digest.
    @discardableResult
    public func ingestBlob(bytes: [UInt8]) throws(StoreError) -> Digest {
        let digest = Digest.sha256(of: bytes)
        if hasBlob(digest) { return digest }
        let temporary = temporaryPath("blob-" + digest.short)
        try io(try FileSystem.createFile(temporary, contents: bytes, mode: 0o444))
        do throws(StoreError) { try io(try FileSystem.rename(temporary, to: blobPath(digest), durable: true)) } catch {
            unlink(temporary)
            throw error
        }
        return digest
    }

    /// Publishes a file the caller wrote at a `temporaryPath(_:)` (a download, a
    /// packed layer): hashes it by reading it back, fsyncs it and renames it to
    /// its blob path. If `expected` is given and differs, the file is deleted and
    /// nothing is published. The temporary file is gone afterwards either way.
    @discardableResult
    public func publishBlob(temporaryFile path: String, expected: Digest? = nil) throws(StoreError) -> Digest {
        try checkTemporary(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw StoreError.system(path, "open") }
        let digest: Digest
        var fdOpen = true
        do throws(StoreError) {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw StoreError.system(path, "fstat") }
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, reason: "not a regular file") }
            (digest, _) = try Store.copyAndHash(from: fd, sourcePath: path, to: nil, outputPath: path, limit: nil)
            if let expected, expected != digest {
                throw .digestMismatch(expected: expected, actual: digest, source: path)
            }
            guard fchmod(fd, 0o444) == 0 else { throw StoreError.system(path, "fchmod") }
            // fsync flushes the file whichever descriptor it goes through.
            guard fsync(fd) == 0 else { throw StoreError.system(path, "fsync") }
            fdOpen = false
            close(fd)
            try io(try FileSystem.rename(path, to: blobPath(digest), durable: true))
        } catch {
            if fdOpen { close(fd) }
            unlink(path)
            throw error
        }
        return digest
    }

    /// Publishes a file the caller wrote at a `temporaryPath(_:)` and hashed while writing
    /// (a layer tar, a compressed layer), without reading it back; returns its size.
    /// Only for bytes strata produced, or that `strata-fetch` verified against their digest
    /// while they arrived (a pull's staging layout, whose blobs may lie in a directory below
    /// `tmp/`): anything else goes through `publishBlob(temporaryFile:expected:)` or
    /// `ingestBlob`, which hash what they store.
    @discardableResult
    public func publishBlob(temporaryFile path: String, trusting digest: Digest) throws(StoreError) -> Int64 {
        try checkTemporary(path, nested: true)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw StoreError.system(path, "open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            unlink(path)
            throw .io(path: path, reason: "not a regular file")
        }
        if hasBlob(digest) {
            unlink(path)
            return Int64(info.st_size)
        }
        guard fchmod(fd, 0o444) == 0, fsync(fd) == 0 else {
            let failure = StoreError.system(path, "fsync")
            unlink(path)
            throw failure
        }
        do throws(StoreError) { try io(try FileSystem.rename(path, to: blobPath(digest), durable: true)) } catch {
            unlink(path)
            throw error
        }
        return Int64(info.st_size)
    }

    /// A new empty directory at a `temporaryPath(_:)` (staging an import, say), mode 0700.
    public func makeTemporaryDirectory(_ path: String) throws(StoreError) {
        try checkTemporary(path)
        try io(try FileSystem.makeDirectory(path, mode: 0o700))
    }

    /// Removes a file or tree at a `temporaryPath(_:)`; nothing outside `tmp/` is touched.
    public func discardTemporary(_ path: String) throws(StoreError) {
        try checkTemporary(path)
        try io(try FileSystem.removeTree(path))
    }

    /// Renaming an arbitrary path would move a file the store does not own.
    /// `nested` allows a file inside a temporary directory (a staging layout's blob).
    func checkTemporary(_ path: String, nested: Bool = false) throws(StoreError) {
        let tmpPrefix = root + "/tmp/"
        guard path.hasPrefix(tmpPrefix), nested || !path.dropFirst(tmpPrefix.count).contains("/"), !path.contains("/../"),
              path.count > tmpPrefix.count
        else { throw .io(path: path, reason: "not a file directly under \(tmpPrefix)") }
    }

    /// Reads `source` to its end, hashing, and writes the bytes to `output` if given.
    /// Stops early once more than `limit` bytes arrived (the count then exceeds it).
    static func copyAndHash(
        from source: Int32, sourcePath: String, to output: Int32?, outputPath: String, limit: Int64?
    ) throws(StoreError) -> (Digest, Int64) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: copyBufferSize, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256Stream()
        var total: Int64 = 0
        while true {
            let n = read(source, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.system(sourcePath, "read")
            }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(chunk)
            total += Int64(n)
            if let limit, total > limit { break }
            if let output { try io(try FileSystem.writeAll(output, chunk, display: outputPath)) }
        }
        return (hasher.finalize(), total)
    }
}

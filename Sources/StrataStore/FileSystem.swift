import CLinux
import Glibc

/// Small wrappers over the system calls the store is built from. Every failure
/// becomes a `StoreError.io` naming the path, so callers never look at errno.
enum FileSystem {
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func failure(_ path: String, _ call: String, _ code: Int32 = errno) -> StoreError {
        .io(path: path, reason: call + ": " + errorText(code))
    }

    /// mkdir(2) that accepts an existing entry (a later open reports it if it is
    /// not a directory). Returns whether this call created it.
    @discardableResult
    static func makeDirectory(_ path: String, mode: mode_t) throws(StoreError) -> Bool {
        if mkdir(path, mode) == 0 {
            // mkdir's mode is filtered by the umask; the store's modes are part of its contract.
            guard chmod(path, mode) == 0 else { throw failure(path, "chmod") }
            return true
        }
        let code = errno
        if code == EEXIST { return false }
        throw failure(path, "mkdir", code)
    }

    /// Creates `path` and any missing parents; parents get `mode` too (XDG asks
    /// for 0700 on data directories it has to create).
    static func makeDirectories(_ path: String, mode: mode_t) throws(StoreError) {
        if mkdir(path, mode) == 0 {
            guard chmod(path, mode) == 0 else { throw failure(path, "chmod") }
            return
        }
        let code = errno
        if code == EEXIST { return }
        guard code == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw failure(path, "mkdir", code)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        try makeDirectory(path, mode: mode)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(StoreError) {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "write")
            }
            offset += n
        }
    }

    /// Writes a new file (it must not exist), fsyncs it when `durable`, and closes it.
    static func createFile(_ path: String, contents: [UInt8], mode: mode_t, durable: Bool = true) throws(StoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw failure(path, "open") }
        do throws(StoreError) {
            // Array.withUnsafeBytes only rethrows untyped errors.
            let written: Result<Void, StoreError> = contents.withUnsafeBytes { buffer in
                do throws(StoreError) {
                    try writeAll(fd, buffer, path: path)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try written.get()
            guard fchmod(fd, mode) == 0 else { throw failure(path, "fchmod") }
            guard !durable || fsync(fd) == 0 else { throw failure(path, "fsync") }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        guard close(fd) == 0 else {
            let code = errno
            unlink(path)
            throw failure(path, "close", code)
        }
    }

    /// Reads a whole small file. `nil` when it does not exist.
    static func readFile(_ path: String, limit: Int) throws(StoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure(path, "open")
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read")
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
            if result.count > limit { throw .corrupt(path: path, reason: "larger than \(limit) bytes") }
        }
    }

    /// The names in the directory `fd` (left open: it is read through a duplicate), without `.` and `..`.
    static func directoryNames(fd: Int32, display: String) throws(StoreError) -> [String] {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0, let handle = fdopendir(copy) else {
            let code = errno
            if copy >= 0 { close(copy) }
            throw failure(display, "opendir", code)
        }
        return try names(handle, display: display)
    }

    /// The names in the directory at `path`, without `.` and `..`.
    static func directoryNames(_ path: String) throws(StoreError) -> [String] {
        guard let handle = opendir(path) else { throw failure(path, "opendir") }
        return try names(handle, display: path)
    }

    private static func names(_ handle: OpaquePointer, display: String) throws(StoreError) -> [String] {
        defer { closedir(handle) }
        var names: [String] = []
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { throw failure(display, "readdir") }
                return names
            }
            let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
    }

    static func rename(_ from: String, to: String) throws(StoreError) {
        guard Glibc.rename(from, to) == 0 else { throw failure(to, "rename from \(from)") }
    }

    /// Lowercase hex of `count` random bytes from the system CSPRNG (getrandom).
    static func randomHex(bytes count: Int) -> String {
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

    // MARK: durability

    /// Flushes the file system holding `path`: an unpacked tree has too many
    /// files to fsync one by one before it is renamed into place.
    static func syncFileSystem(containing path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        guard syncfs(fd) == 0 else { throw failure(path, "syncfs") }
    }

    /// fsync(2) of a directory, so that a rename into it survives a power loss.
    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(path, "fsync") }
    }
}

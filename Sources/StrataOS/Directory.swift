import Glibc

/// One entry of a directory listing: the raw name and the type `readdir` reported.
public struct DirectoryEntry: Sendable {
    /// The name's bytes, NUL-terminated, exactly as the file system holds them (names
    /// in layers need not be UTF-8).
    public var rawName: [CChar]
    /// `DT_DIR`, `DT_REG`, … or `DT_UNKNOWN` when the file system does not say.
    public var type: UInt8

    /// The name as text (invalid UTF-8 repaired): for display and for names strata made.
    public var name: String { String(decoding: rawName.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    public var isDirectory: Bool { type == UInt8(DT_DIR) }
}

/// Directory listings, read whole before the caller acts on them (unlinking while
/// `readdir` iterates may skip entries). `.` and `..` are never listed.
public enum Directory {
    /// The entries of the directory open at `fd`, which stays open (it is read through a duplicate).
    public static func entries(fd: Int32, display: String) throws(SystemError) -> [DirectoryEntry] {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw SystemError("opendir", path: display) }
        guard let handle = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw SystemError("opendir", path: display, errno: code)
        }
        return try read(handle, display: display)
    }

    /// The entries of the directory at `path` (a symlink there is followed, as `opendir` does).
    public static func entries(_ path: String) throws(SystemError) -> [DirectoryEntry] {
        guard let handle = opendir(path) else { throw SystemError("opendir", path: path) }
        return try read(handle, display: path)
    }

    /// The entries of the directory at the NUL-terminated raw `path` (host paths need not be UTF-8).
    public static func entries(rawPath path: [CChar], display: String) throws(SystemError) -> [DirectoryEntry] {
        guard let handle = opendir(path) else { throw SystemError("opendir", path: display) }
        return try read(handle, display: display)
    }

    /// The names in the directory at `path`.
    public static func names(_ path: String) throws(SystemError) -> [String] {
        try entries(path).map(\.name)
    }

    /// The names in the directory open at `fd` (left open).
    public static func names(fd: Int32, display: String) throws(SystemError) -> [String] {
        try entries(fd: fd, display: display).map(\.name)
    }

    /// Whether the directory at `path` has no entries; false when it cannot be read.
    public static func isEmpty(_ path: String) -> Bool {
        guard let handle = opendir(path) else { return false }
        defer { closedir(handle) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(handle) {
            let raw = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            if !isDotOrDotDot(raw) { return false }
        }
        return true
    }

    private static func read(_ handle: OpaquePointer, display: String) throws(SystemError) -> [DirectoryEntry] {
        defer { closedir(handle) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var entries: [DirectoryEntry] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { throw SystemError("readdir", path: display) }
                return entries
            }
            let raw = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            if isDotOrDotDot(raw) { continue }
            let name = Array(UnsafeBufferPointer(start: raw, count: strlen(raw) + 1))
            entries.append(DirectoryEntry(rawName: name, type: entry.pointee.d_type))
        }
    }

    private static func isDotOrDotDot(_ raw: UnsafePointer<CChar>) -> Bool {
        raw[0] == 0x2e && (raw[1] == 0 || (raw[1] == 0x2e && raw[2] == 0))
    }
}

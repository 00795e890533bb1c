import Glibc
import StrataModel
import StrataOS

/// A layer tree written down, one line per entry, sorted by path: what fsck compares a layer
/// with to find the file that changed since it was published.
///
/// A line is `TYPE MODE UID:GID CONTENT XATTRS PATH`: TYPE is `f`, `d`, `l`, `c`, `b`, `p` or
/// `s`; MODE the permission bits in octal; CONTENT the sha256 of a file's bytes or of a
/// symlink's target, a device's number, or `-`; XATTRS the sha256 of the sorted `name=value`
/// list, or `-` for none; PATH relative, with bytes outside printable ASCII (and space and
/// backslash) as `\xHH`. Times are left out: a layer's meaning is its content, modes,
/// owners and xattrs, and hard links share an inode's times.
public enum TreeManifest {
    /// Content digests by inode (device, inode, size, mtime), so that a tree of hard links to
    /// files already hashed (a flattened layer) costs a `stat` per file.
    public struct ContentCache {
        struct Key: Hashable { var device: UInt64; var inode: UInt64; var size: Int64; var mtime: Int; var nanoseconds: Int }
        var digests: [Key: String] = [:]
        public init() {}
    }

    public static func lines(of root: String) throws(SystemError) -> [String] {
        var cache = ContentCache()
        return try lines(of: root, cache: &cache)
    }

    public static func lines(of root: String, cache: inout ContentCache) throws(SystemError) -> [String] {
        var lines: [String] = []
        try walk(Array(root.utf8), relative: [], into: &lines, cache: &cache)
        return lines.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The path part of a line (everything after the fifth space).
    public static func path(ofLine line: String) -> String {
        var spaces = 0
        for index in line.indices where line[index] == " " {
            spaces += 1
            if spaces == 5 { return String(line[line.index(after: index)...]) }
        }
        return line
    }

    private static func walk(_ root: [UInt8], relative: [UInt8], into lines: inout [String],
                             cache: inout ContentCache) throws(SystemError) {
        let directory = root + relative
        let display = String(decoding: directory, as: UTF8.self)
        for entry in try Directory.entries(rawPath: (directory.map { CChar(bitPattern: $0) }) + [0], display: display) {
            let name = entry.rawName.dropLast().map { UInt8(bitPattern: $0) }
            let path = relative + [0x2F] + name
            let full = (root + path).map { CChar(bitPattern: $0) } + [0]
            var info = stat()
            guard lstat(full, &info) == 0 else {
                throw SystemError("lstat", path: String(decoding: root + path, as: UTF8.self))
            }
            let type: String, content: String
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                type = "f"
                let key = ContentCache.Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                                           mtime: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
                if let known = cache.digests[key] { content = known } else {
                    content = try FileDigest.of(String(decoding: root + path, as: UTF8.self), raw: full).digest.hex
                    cache.digests[key] = content
                }
            case S_IFDIR: type = "d"; content = "-"
            case S_IFLNK:
                type = "l"
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlink(full, &buffer, buffer.count - 1)
                guard count >= 0 else { throw SystemError("readlink", path: String(decoding: root + path, as: UTF8.self)) }
                content = Digest.sha256(of: buffer[..<count].map { UInt8(bitPattern: $0) }).hex
            case S_IFCHR: type = "c"; content = String(info.st_rdev)
            case S_IFBLK: type = "b"; content = String(info.st_rdev)
            case S_IFIFO: type = "p"; content = "-"
            default: type = "s"; content = "-"
            }
            let attributes = Xattr.list(path: full) ?? []
            let xattrs = attributes.isEmpty ? "-" : Digest.sha256(of: attributes.flatMap { Array($0.name.utf8) + [0x3D] + $0.value + [0] }).hex
            lines.append("\(type) \(String(info.st_mode & 0o7777, radix: 8)) \(info.st_uid):\(info.st_gid) \(content) \(xattrs) \(escaped(path))")
            if type == "d" { try walk(root, relative: path, into: &lines, cache: &cache) }
        }
    }

    static func escaped(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes.dropFirst() {
            if byte > 0x20 && byte < 0x7F && byte != 0x5C {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return text
    }
}

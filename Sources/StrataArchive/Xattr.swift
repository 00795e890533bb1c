import CLinux
import Glibc

/// The xattr system calls, through CLinux (Swift's Glibc module lacks `<sys/xattr.h>`).
enum Xattr {
    /// `fsetxattr(2)`; returns 0 or -1 with errno set.
    static func set(fd: Int32, name: UnsafePointer<CChar>, value: UnsafeRawBufferPointer) -> Int32 {
        CLinux.fsetxattr(fd, name, value.baseAddress, value.count, 0)
    }

    /// The xattrs of `path` itself (not following a symlink), sorted by name; nil with
    /// errno set on failure.
    static func list(path: [CChar]) -> [(name: String, value: [UInt8])]? {
        var size = llistxattr(path, nil, 0)
        guard size >= 0 else { return errno == ENOTSUP ? [] : nil }
        var names = [CChar](repeating: 0, count: size + 1)
        size = llistxattr(path, &names, size)
        guard size >= 0 else { return nil }
        var result: [(name: String, value: [UInt8])] = []
        var start = 0
        while start < size {
            let end = names[start..<size].firstIndex(of: 0) ?? size
            let name = String(decoding: names[start..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            start = end + 1
            guard !name.isEmpty else { continue }
            var length = lgetxattr(path, name, nil, 0)
            guard length >= 0 else { return nil }
            var value = [UInt8](repeating: 0, count: length)
            length = value.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, length) }
            guard length >= 0 else { return nil }
            result.append((name, Array(value[0..<length])))
        }
        return result.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }
}

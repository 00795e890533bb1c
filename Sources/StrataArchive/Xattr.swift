import Glibc

/// The xattr system calls, which the Glibc module does not export (`<sys/xattr.h>` is in
/// neither it nor the CArchive shim). Looked up once from libc with their C signatures.
enum Xattr {
    private typealias FSet = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    private typealias LList = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
    private typealias LGet = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    private static let fsetxattr: FSet? = lookup("fsetxattr")
    private static let llistxattr: LList? = lookup("llistxattr")
    private static let lgetxattr: LGet? = lookup("lgetxattr")

    private static func lookup<F>(_ name: String) -> F? {
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }

    /// `fsetxattr(2)`; returns 0 or -1 with errno set.
    static func set(fd: Int32, name: UnsafePointer<CChar>, value: UnsafeRawBufferPointer) -> Int32 {
        guard let fsetxattr else { errno = ENOSYS; return -1 }
        return fsetxattr(fd, name, value.baseAddress, value.count, 0)
    }

    /// The xattrs of `path` itself (not following a symlink), sorted by name; nil with
    /// errno set on failure.
    static func list(path: [CChar]) -> [(name: String, value: [UInt8])]? {
        guard let llistxattr, let lgetxattr else { errno = ENOSYS; return nil }
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

import CLinux
import Glibc
import StrataOS

/// Makes a tree that processes wrote (a session's upper dir) fit to be a shared layer:
/// the same inputs must give the same tree on every machine and every run.
///
/// Removes named leftovers (logs, caches), clamps every mtime to `epoch` (the
/// `SOURCE_DATE_EPOCH` convention: nothing is newer than the inputs), and drops the
/// overlay's bookkeeping xattrs (`trusted.overlay.origin`, `impure`, …) except `opaque`,
/// which is part of the layer's meaning.
public struct LayerNormalizer: Sendable {
    public let root: String
    public let epoch: Int64

    public init(root: String, epoch: Int64) { self.root = root; self.epoch = epoch }

    /// `leftovers` are absolute paths inside the tree; missing ones are fine.
    public func normalize(removing leftovers: [String]) throws(StoreError) {
        for path in leftovers {
            let full = root + path
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            // A directory here would be a surprise worth keeping; only files are leftovers.
            if (info.st_mode & S_IFMT) != S_IFDIR, unlink(full) != 0 {
                throw StoreError.system(full, "unlink")
            }
        }
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw StoreError.system(root, "open") }
        try walk(fd, path: root)
        try clamp(parent: AT_FDCWD, name: root, path: root)
    }

    /// Normalizes every entry under the open directory `fd` (which this call closes).
    private func walk(_ fd: Int32, path: String) throws(StoreError) {
        guard let directory = fdopendir(fd) else {
            close(fd)
            throw StoreError.system(path, "fdopendir")
        }
        defer { closedir(directory) }
        var names: [(String, UInt8)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            names.append((name, entry.pointee.d_type))
        }
        for (name, type) in names {
            let child = path + "/" + name
            if type == UInt8(DT_DIR) {
                let sub = openat(dirfd(directory), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                guard sub >= 0 else { throw StoreError.system(child, "open") }
                try walk(sub, path: child)
            }
            try clamp(parent: dirfd(directory), name: name, path: child)
        }
    }

    private func clamp(parent: Int32, name: String, path: String) throws(StoreError) {
        try dropOverlayXattrs(path)
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw StoreError.system(path, "stat") }
        guard Int64(info.st_mtim.tv_sec) > epoch else { return }
        let when = timespec(tv_sec: Int(epoch), tv_nsec: 0)
        var times = [when, when]
        guard utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw StoreError.system(path, "utimensat") }
    }

    private func dropOverlayXattrs(_ path: String) throws(StoreError) {
        var size = llistxattr(path, nil, 0)
        guard size > 0 else { return }
        var names = [CChar](repeating: 0, count: size)
        size = llistxattr(path, &names, size)
        guard size > 0 else { return }
        var start = 0
        for i in 0..<size where names[i] == 0 {
            let name = names[start..<i].withUnsafeBufferPointer { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            start = i + 1
            guard name.hasPrefix("trusted.overlay."), name != "trusted.overlay.opaque" else { continue }
            if lremovexattr(path, name) != 0 && errno != ENODATA { throw StoreError.system(path, "removexattr \(name)") }
        }
    }
}

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
        let directory = try io(try FileDescriptor.openDirectory(root))
        let rootPath = Array(root.utf8CString)
        try walk(directory, path: rootPath)
        try clamp(parent: AT_FDCWD, name: rootPath, path: rootPath)
    }

    /// Normalizes every entry under the open `directory`. Paths are raw NUL-terminated
    /// bytes: names a session wrote need not be UTF-8.
    private func walk(_ directory: FileDescriptor, path: [CChar]) throws(StoreError) {
        let display = Self.text(path)
        for entry in try io(try Directory.entries(fd: directory.raw, display: display)) {
            let child = Array(path.dropLast()) + [0x2F] + entry.rawName
            var isDirectory = entry.isDirectory
            if entry.type == UInt8(DT_UNKNOWN) {
                var info = stat()
                guard fstatat(directory.raw, entry.rawName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw StoreError.system(Self.text(child), "stat")
                }
                isDirectory = info.st_mode & S_IFMT == S_IFDIR
            }
            if isDirectory {
                let sub = openat(directory.raw, entry.rawName, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                guard sub >= 0 else { throw StoreError.system(Self.text(child), "open") }
                try walk(FileDescriptor(owning: sub), path: child)
            }
            try clamp(parent: directory.raw, name: entry.rawName, path: child)
        }
    }

    private func clamp(parent: Int32, name: [CChar], path: [CChar]) throws(StoreError) {
        try dropOverlayXattrs(path)
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw StoreError.system(Self.text(path), "stat") }
        guard Int64(info.st_mtim.tv_sec) > epoch else { return }
        let when = timespec(tv_sec: Int(epoch), tv_nsec: 0)
        var times = [when, when]
        guard utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw StoreError.system(Self.text(path), "utimensat") }
    }

    private func dropOverlayXattrs(_ path: [CChar]) throws(StoreError) {
        var size = llistxattr(path, nil, 0)
        guard size > 0 else { return }
        var names = [CChar](repeating: 0, count: size)
        size = llistxattr(path, &names, size)
        guard size > 0 else { return }
        var start = 0
        for i in 0..<size where names[i] == 0 {
            let name = Array(names[start..<i]) + [0]
            let text = Self.text(name)
            start = i + 1
            guard text.hasPrefix("trusted.overlay."), text != "trusted.overlay.opaque" else { continue }
            if lremovexattr(path, name) != 0 && errno != ENODATA { throw StoreError.system(Self.text(path), "removexattr \(text)") }
        }
    }

    /// A raw NUL-terminated path as text, for messages.
    private static func text(_ raw: [CChar]) -> String {
        String(decoding: raw.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

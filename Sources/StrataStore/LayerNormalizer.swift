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
    /// Also drop what commands commonly leave that describes no state (`runStepLeftovers`):
    /// for `run` steps, whose commands are not known in advance.
    public var commonLeftovers = false

    public init(root: String, epoch: Int64, commonLeftovers: Bool = false) {
        self.root = root; self.epoch = epoch; self.commonLeftovers = commonLeftovers
    }

    /// What a `run` step's layer never keeps (README, "Build steps"): files under
    /// `/var/log`, `/var/cache/ldconfig/aux-cache`, `/var/cache/apt/*.bin`, `.pyc` files
    /// in `__pycache__` that are checked by timestamp (hash-based ones stay); and
    /// `/etc/machine-id`, `/var/lib/dbus/machine-id` are emptied. A removed file shows
    /// again whatever the layers below have there.
    public static let runStepLeftovers = [
        "/var/log/**", "/var/cache/ldconfig/aux-cache", "/var/cache/apt/*.bin", "**/__pycache__/*.pyc (timestamp-based)",
        "/etc/machine-id (emptied)", "/var/lib/dbus/machine-id (emptied)",
    ]

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
        if commonLeftovers { try removeCommonLeftovers() }
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
                let subdirectory = FileDescriptor(owning: sub)
                if commonLeftovers && entry.rawName == Self.pycache { try removeTimestampedBytecode(subdirectory, path: child) }
                try walk(subdirectory, path: child)
            }
            try clamp(parent: directory.raw, name: entry.rawName, path: child)
        }
    }

    static let pycache: [CChar] = Array("__pycache__".utf8CString)

    private func removeCommonLeftovers() throws(StoreError) {
        try removeFiles(under: root + "/var/log", matching: { _ in true }, recursive: true)
        try removeFiles(under: root + "/var/cache/apt", matching: { $0.hasSuffix(".bin") }, recursive: false)
        try removeFiles(under: root + "/var/cache/ldconfig", matching: { $0 == "aux-cache" }, recursive: false)
        for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
            let full = root + path
            var info = stat()
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size > 0 else { continue }
            guard truncate(full, 0) == 0 else { throw StoreError.system(full, "truncate") }
        }
    }

    /// Removes the regular files (never whiteouts or directories) in `directory` whose
    /// names `matching` accepts; a missing directory is fine.
    private func removeFiles(under directory: String, matching: (String) -> Bool, recursive: Bool) throws(StoreError) {
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        for entry in try io(try Directory.entries(directory)) {
            let name = entry.name
            let full = directory + "/" + name
            guard lstat(full, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR where recursive: try removeFiles(under: full, matching: matching, recursive: true)
            case S_IFREG where matching(name): guard unlink(full) == 0 else { throw StoreError.system(full, "unlink") }
            default: break
            }
        }
    }

    /// `.pyc` files record their source's mtime unless they are hash-based (PEP 552: bit 0
    /// of the flags word after the magic): those differ from build to build.
    private func removeTimestampedBytecode(_ directory: FileDescriptor, path: [CChar]) throws(StoreError) {
        for entry in try io(try Directory.entries(fd: directory.raw, display: Self.text(path))) {
            guard entry.name.hasSuffix(".pyc") else { continue }
            let fd = openat(directory.raw, entry.rawName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            guard fd >= 0 else { continue }
            var info = stat()
            var header = [UInt8](repeating: 0, count: 8)
            let isFile = fstat(fd, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
            let count = isFile ? read(fd, &header, 8) : 0
            close(fd)
            guard isFile, count == 8, header[4] & 1 == 0 else { continue }
            guard unlinkat(directory.raw, entry.rawName, 0) == 0 else {
                throw StoreError.system(Self.text(Array(path.dropLast()) + [0x2F] + entry.rawName), "unlink")
            }
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
            // Both families: a rootless session's overlay (userxattr) writes user.overlay.*.
            let overlay = text.hasPrefix("trusted.overlay.") || text.hasPrefix("user.overlay.")
            guard overlay, text != "trusted.overlay.opaque", text != "user.overlay.opaque" else { continue }
            if lremovexattr(path, name) != 0 && errno != ENODATA { throw StoreError.system(Self.text(path), "removexattr \(text)") }
        }
    }

    /// A raw NUL-terminated path as text, for messages.
    private static func text(_ raw: [CChar]) -> String {
        String(decoding: raw.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

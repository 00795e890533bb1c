import CLinux
import Glibc
import StrataOS
import StrataModel

extension Store {
    /// Publishes one layer that shows the same tree as the stack `keys` (bottom first),
    /// made of hard links to the stack's files, and returns its key (`LayerKeys.flattened`).
    ///
    /// Why: overlayfs looks a missing name up in every lower dir, and a Debian base is
    /// 130-odd layers; mounting one flattened layer makes a session over 130 packages
    /// start and run like one over a single layer. Hard links cost no file data, and
    /// layers are never written after they are published, so sharing inodes is safe.
    @discardableResult
    public func publishFlattened(_ keys: [Digest]) throws(StoreError) -> Digest {
        let key = LayerKeys.flattened(keys)
        for layer in keys where !hasLayer(layer) { throw .missingLayer(layer) }
        try publishLayer(key: key) { (directory) throws(StoreError) -> [String] in
            try flatten(keys.map(layerPath), into: directory)
            return []
        }
        return key
    }

    /// Fills the empty directory `target` with the tree overlayfs shows for `directories`
    /// stacked bottom first (layers, and a session's upper dir on top), made of hard links
    /// to their files: whiteouts and opaque directories applied, directories taking the
    /// topmost one's owner, mode and mtime. Everything must be on the store's file system.
    public func flatten(_ directories: [String], into target: String) throws(StoreError) {
        let targetFD = try LayerFlattener.openDirectory(target)
        defer { close(targetFD) }
        var flattener = LayerFlattener()
        for directory in directories {
            let source = try LayerFlattener.openDirectory(directory)
            defer { close(source) }
            try flattener.merge(source: source, target: targetFD, path: target)
        }
        try flattener.applyDirectoryMetadata()
    }

    /// Fills the empty directory `target` with a copy of the tree overlayfs shows for
    /// `directories` (bottom first), as `flatten` does but with the files' bytes copied:
    /// for a tree that is written afterwards (a volume seeded from the environment), which
    /// must not share an inode with a layer. Devices, fifos and sockets are left out.
    public func copyMerged(_ directories: [String], into target: String) throws(StoreError) {
        let targetFD = try LayerFlattener.openDirectory(target)
        defer { close(targetFD) }
        var flattener = LayerFlattener(copying: true)
        for directory in directories {
            let source = try LayerFlattener.openDirectory(directory)
            defer { close(source) }
            try flattener.merge(source: source, target: targetFD, path: target)
        }
        try flattener.applyDirectoryMetadata()
    }
}

/// Merges overlay lower dirs into one tree, bottom layer first, with overlayfs's rules:
/// a higher entry replaces a lower one, a whiteout (0/0 character device) deletes it, an
/// opaque directory hides everything below it, and directories take the topmost
/// layer's owner, mode and mtime.
struct LayerFlattener {
    struct DirectoryMetadata {
        var mode: mode_t
        var uid: uid_t
        var gid: gid_t
        var mtime: timespec
    }

    /// Directories by path, with the metadata of the topmost layer that had them;
    /// applied at the end, since adding entries changes a directory's mtime.
    private var directories: [String: DirectoryMetadata] = [:]
    /// Copy files instead of linking them.
    var copying = false

    init(copying: Bool = false) { self.copying = copying }

    static func openDirectory(_ path: String) throws(StoreError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw StoreError.system(path, "open") }
        return fd
    }

    mutating func merge(source: Int32, target: Int32, path: String) throws(StoreError) {
        var info = stat()
        guard fstat(source, &info) == 0 else { throw StoreError.system(path, "fstat") }
        directories[path] = DirectoryMetadata(mode: info.st_mode & 0o7777, uid: info.st_uid, gid: info.st_gid, mtime: info.st_mtim)
        for name in try io(try Directory.names(fd: source, display: path)) {
            let child = path + "/" + name
            var entry = stat()
            guard fstatat(source, name, &entry, AT_SYMLINK_NOFOLLOW) == 0 else { throw StoreError.system(child, "fstatat") }
            var existing = stat()
            let exists = fstatat(target, name, &existing, AT_SYMLINK_NOFOLLOW) == 0
            let existingIsDirectory = exists && (existing.st_mode & S_IFMT) == S_IFDIR
            switch entry.st_mode & S_IFMT {
            case S_IFCHR where entry.st_rdev == 0:
                if exists { try io(try FileSystem.removeTree(child)) }
                forgetDirectories(under: child)
            case S_IFDIR:
                let subSource = openat(source, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                guard subSource >= 0 else { throw StoreError.system(child, "open") }
                defer { close(subSource) }
                if exists && (!existingIsDirectory || Self.isOpaque(subSource)) { try io(try FileSystem.removeTree(child)) }
                if !existingIsDirectory || Self.isOpaque(subSource) {
                    guard mkdirat(target, name, 0o700) == 0 else { throw StoreError.system(child, "mkdir") }
                }
                let subTarget = openat(target, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                guard subTarget >= 0 else { throw StoreError.system(child, "open") }
                defer { close(subTarget) }
                try merge(source: subSource, target: subTarget, path: child)
            default:
                if exists { try io(try FileSystem.removeTree(child)) }
                forgetDirectories(under: child)
                if copying {
                    try io(try FileSystem.copyEntry(name, from: source, to: target, display: child))
                } else {
                    guard linkat(source, name, target, name, 0) == 0 else { throw StoreError.system(child, "link") }
                }
            }
        }
    }

    /// A lower layer's directory that a higher one deleted or replaced takes no metadata.
    mutating func forgetDirectories(under path: String) {
        if directories.removeValue(forKey: path) == nil { return }
        let prefix = path + "/"
        directories = directories.filter { !$0.key.hasPrefix(prefix) }
    }

    func applyDirectoryMetadata() throws(StoreError) {
        // Deepest first, so that setting a directory's mtime is not undone by its children.
        for (path, metadata) in directories.sorted(by: { $0.key.count > $1.key.count }) {
            // Through a descriptor of the directory itself: a path a higher layer turned into
            // a symlink (Debian's /var/lock → /run/lock) must never lead to the host's file.
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 && (errno == ENOTDIR || errno == ELOOP || errno == ENOENT) { continue }
            guard fd >= 0 else { throw StoreError.system(path, "open") }
            defer { close(fd) }
            guard fchown(fd, metadata.uid, metadata.gid) == 0 else { throw StoreError.system(path, "chown") }
            guard fchmod(fd, metadata.mode) == 0 else { throw StoreError.system(path, "chmod") }
            var times = [metadata.mtime, metadata.mtime]
            guard futimens(fd, &times) == 0 else { throw StoreError.system(path, "utimensat") }
        }
    }

    /// A root store marks opaque directories with `trusted.overlay.opaque`, a rootless one
    /// (overlay's `userxattr` mode) with `user.overlay.opaque`.
    static func isOpaque(_ fd: Int32) -> Bool {
        for attribute in ["trusted.overlay.opaque", "user.overlay.opaque"] {
            var value: [UInt8] = [0, 0]
            let size = fgetxattr(fd, attribute, &value, value.count)
            if size == 1 && value[0] == UInt8(ascii: "y") { return true }
        }
        return false
    }

    /// The names in a directory, except `.` and `..`.
}

import Glibc

extension FileSystem {
    /// Removes `path` and everything below it; a missing `path` is not an error.
    ///
    /// Works through directory fds (`openat`/`unlinkat`, `O_NOFOLLOW`), so a
    /// symlink inside the tree is removed, never followed, whatever it points at.
    /// Names are kept as raw bytes: layers may hold names that are not UTF-8.
    /// Mode-000 and read-only directories (overlay's `work/work`, layers with
    /// `dr-x` dirs) are opened up first. Refuses to cross into another file system:
    /// a still-mounted session root must be unmounted, not emptied.
    static func removeTree(_ path: String) throws(StoreError) {
        let (parentPath, leaf) = split(path)
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if parent < 0 {
            if errno == ENOENT { return }
            throw failure(parentPath, "open")
        }
        defer { close(parent) }
        var info = stat()
        if fstatat(parent, leaf, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return }
            throw failure(path, "fstatat")
        }
        // The parent's file system is the reference, so that `path` itself being a
        // mount point is refused too.
        var parentInfo = stat()
        guard fstat(parent, &parentInfo) == 0 else { throw failure(parentPath, "fstat") }
        var name = Array(leaf.utf8CString)
        try removeEntry(
            parent: parent, name: &name, isDirectory: (info.st_mode & S_IFMT) == S_IFDIR,
            device: parentInfo.st_dev, displayPath: path)
    }

    private static func split(_ path: String) -> (String, String) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let parent = slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
        return (parent, String(trimmed[trimmed.index(after: slash)...]))
    }

    /// `name` is NUL-terminated raw bytes relative to `parent`.
    private static func removeEntry(
        parent: Int32, name: inout [CChar], isDirectory: Bool, device: dev_t, displayPath: String
    ) throws(StoreError) {
        if !isDirectory {
            if unlinkat(parent, name, 0) == 0 || errno == ENOENT { return }
            throw failure(displayPath, "unlinkat")
        }
        var fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && (errno == EACCES || errno == EPERM) {
            // Without CAP_DAC_OVERRIDE a mode-000 directory cannot be listed.
            if fchmodat(parent, name, 0o700, AT_SYMLINK_NOFOLLOW) == 0 {
                fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
        }
        if fd < 0 {
            let code = errno
            if code == ENOENT { return }
            if code == ENOTDIR || code == ELOOP {
                // Replaced by a non-directory since it was listed: remove that instead.
                if unlinkat(parent, name, 0) == 0 || errno == ENOENT { return }
                throw failure(displayPath, "unlinkat")
            }
            throw failure(displayPath, "openat", code)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw failure(displayPath, "fstat", code)
        }
        guard info.st_dev == device else {
            close(fd)
            throw .io(path: displayPath, reason: "is a mount point of another file system; unmount it first")
        }
        if info.st_mode & 0o700 != 0o700 {
            // Unlinking children needs write+search on this directory.
            fchmod(fd, 0o700)
        }
        guard let directory = fdopendir(fd) else {
            let code = errno
            close(fd)
            throw failure(displayPath, "fdopendir", code)
        }
        do throws(StoreError) {
            let children = try listEntries(directory, displayPath: displayPath)
            let dirfd = Glibc.dirfd(directory)
            for var child in children {
                let childPath = displayPath + "/" + String(decoding: child.name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
                var isChildDirectory = child.type == UInt8(DT_DIR)
                if child.type == UInt8(DT_UNKNOWN) {
                    var childInfo = stat()
                    if fstatat(dirfd, child.name, &childInfo, AT_SYMLINK_NOFOLLOW) != 0 {
                        if errno == ENOENT { continue }
                        throw failure(childPath, "fstatat")
                    }
                    isChildDirectory = (childInfo.st_mode & S_IFMT) == S_IFDIR
                }
                try removeEntry(
                    parent: dirfd, name: &child.name, isDirectory: isChildDirectory, device: device,
                    displayPath: childPath)
            }
        } catch {
            closedir(directory)
            throw error
        }
        closedir(directory)
        if unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT { return }
        throw failure(displayPath, "rmdir")
    }

    private struct Entry {
        var name: [CChar]
        var type: UInt8
    }

    /// Reads every entry first: unlinking while readdir is iterating may skip entries.
    private static func listEntries(_ directory: OpaquePointer, displayPath: String) throws(StoreError) -> [Entry] {
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var entries: [Entry] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw failure(displayPath, "readdir") }
                return entries
            }
            let raw = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            let length = strlen(raw)
            if (length == 1 && raw[0] == 0x2e) || (length == 2 && raw[0] == 0x2e && raw[1] == 0x2e) { continue }
            let name = Array(UnsafeBufferPointer(start: raw, count: length + 1))
            entries.append(Entry(name: name, type: entry.pointee.d_type))
        }
    }
}

import Glibc

extension FileSystem {
    /// Removes `path` and everything below it; a missing `path` is not an error.
    ///
    /// Works through directory fds (`openat`/`unlinkat`, `O_NOFOLLOW`), so a symlink
    /// inside the tree is removed, never followed, whatever it points at. Names are kept
    /// as raw bytes: layers may hold names that are not UTF-8. Mode-000 and read-only
    /// directories (overlay's `work/work`, layers with `dr-x` dirs) are opened up first.
    /// Refuses to cross into another file system (EBUSY): a still-mounted session root
    /// must be unmounted, not emptied.
    public static func removeTree(_ path: String) throws(SystemError) {
        let (parentPath, leaf) = split(path)
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if parent < 0 {
            if errno == ENOENT { return }
            throw SystemError("open", path: parentPath)
        }
        defer { close(parent) }
        var info = stat()
        if fstatat(parent, leaf, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return }
            throw SystemError("fstatat", path: path)
        }
        // The parent's file system is the reference, so that `path` itself being a
        // mount point is refused too.
        var parentInfo = stat()
        guard fstat(parent, &parentInfo) == 0 else { throw SystemError("fstat", path: parentPath) }
        try removeEntry(parent: parent, name: Array(leaf.utf8CString), isDirectory: (info.st_mode & S_IFMT) == S_IFDIR,
                        device: parentInfo.st_dev, displayPath: path)
    }

    /// `name` is NUL-terminated raw bytes relative to `parent`.
    private static func removeEntry(
        parent: Int32, name: [CChar], isDirectory: Bool, device: dev_t, displayPath: String
    ) throws(SystemError) {
        if !isDirectory {
            if unlinkat(parent, name, 0) == 0 || errno == ENOENT { return }
            throw SystemError("unlinkat", path: displayPath)
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
                throw SystemError("unlinkat", path: displayPath)
            }
            throw SystemError("openat", path: displayPath, errno: code)
        }
        let directory = FileDescriptor(owning: fd)
        let info = try directory.status(display: displayPath)
        guard info.st_dev == device else {
            throw SystemError("remove a mount point of another file system (unmount it first)", path: displayPath, errno: EBUSY)
        }
        if info.st_mode & 0o700 != 0o700 {
            // Unlinking children needs write+search on this directory.
            fchmod(fd, 0o700)
        }
        for child in try Directory.entries(fd: fd, display: displayPath) {
            let childPath = displayPath + "/" + child.name
            var isChildDirectory = child.isDirectory
            if child.type == UInt8(DT_UNKNOWN) {
                var childInfo = stat()
                if fstatat(fd, child.rawName, &childInfo, AT_SYMLINK_NOFOLLOW) != 0 {
                    if errno == ENOENT { continue }
                    throw SystemError("fstatat", path: childPath)
                }
                isChildDirectory = (childInfo.st_mode & S_IFMT) == S_IFDIR
            }
            try removeEntry(parent: fd, name: child.rawName, isDirectory: isChildDirectory, device: device, displayPath: childPath)
        }
        if unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT { return }
        throw SystemError("rmdir", path: displayPath)
    }
}

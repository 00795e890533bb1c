import Glibc

extension FileSystem {
    /// Calls `visit` with the status of `path` and of every entry below it, parents before
    /// their children; a missing `path` visits nothing.
    ///
    /// Through directory fds with `O_NOFOLLOW`, so symlinks are reported, never followed, and
    /// another file system below (a mount point) is reported but not entered. Entries that
    /// vanish while the walk runs (a live session's upper dir) are skipped. `visit` returns
    /// false to stop the walk early.
    public static func walk(_ path: String, _ visit: (_ info: stat) -> Bool) throws(SystemError) {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw SystemError("lstat", path: path)
        }
        guard visit(info) else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw SystemError("open", path: path)
        }
        var keepGoing = true
        try walkBelow(FileDescriptor(owning: fd), display: path, device: info.st_dev, keepGoing: &keepGoing, visit)
    }

    private static func walkBelow(
        _ directory: FileDescriptor, display: String, device: dev_t, keepGoing: inout Bool, _ visit: (stat) -> Bool
    ) throws(SystemError) {
        for entry in try Directory.entries(fd: directory.raw, display: display) where keepGoing {
            var info = stat()
            guard fstatat(directory.raw, entry.rawName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }
                throw SystemError("fstatat", path: display + "/" + entry.name)
            }
            keepGoing = visit(info)
            guard keepGoing, (info.st_mode & S_IFMT) == S_IFDIR, info.st_dev == device else { continue }
            let child = openat(directory.raw, entry.rawName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { continue }
                throw SystemError("openat", path: display + "/" + entry.name)
            }
            try walkBelow(FileDescriptor(owning: child), display: display + "/" + entry.name, device: device,
                          keepGoing: &keepGoing, visit)
        }
    }
}

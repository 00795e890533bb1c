import Glibc
import StrataOS

extension Store {
    /// The bytes a session's changes take: the sizes of the files and symlinks in its
    /// upper dir, each hard-linked file once, directories not counted (what `docker ps
    /// --size` reports for a container's writable layer). A running session may change
    /// while it is measured: entries that vanish meanwhile are skipped.
    public func changeSize(_ session: SessionRecord) throws(StoreError) -> Int64 {
        let fd = open(session.upperPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system(session.upperPath, "open") }
        var seen = Set<UInt64>()
        return try Self.size(of: fd, display: session.upperPath, seen: &seen)
    }

    /// The size below the directory `fd` (closed here); `seen` holds the inodes of
    /// hard-linked files already counted (one upper dir is one file system).
    private static func size(of fd: Int32, display: String, seen: inout Set<UInt64>) throws(StoreError) -> Int64 {
        defer { close(fd) }
        var total: Int64 = 0
        for name in try io(try Directory.names(fd: fd, display: display)) {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }
                throw StoreError.system(display + "/" + name, "stat")
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else {
                    if errno == ENOENT || errno == ENOTDIR { continue }
                    throw StoreError.system(display + "/" + name, "open")
                }
                total += try size(of: child, display: display + "/" + name, seen: &seen)
            case S_IFREG, S_IFLNK:
                if info.st_nlink > 1 && !seen.insert(UInt64(info.st_ino)).inserted { continue }
                total += Int64(info.st_size)
            default:
                continue
            }
        }
        return total
    }
}

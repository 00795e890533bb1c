import CLinux
import Glibc
import StrataOS

extension Store {
    /// Takes out of a stopped session's upper dir what only its mounts put there: a mount on
    /// a path the environment lacks (the project at `/home/ada/src/app`, a home volume at
    /// `/home/ada`) makes its directories in the upper dir, and the copy-up of an existing
    /// parent, which `strata diff` and a commit would otherwise show as the user's changes
    /// (and which differ from one user to the next).
    ///
    /// From each target up (past an empty file a file bind left), a directory goes when it is empty, not opaque, and either absent
    /// from `lowerDirs` (topmost first) or there with the same owner and mode (an unchanged
    /// copy-up); the first that does not qualify stops the walk. Call only when nothing runs
    /// in the session. Returns the paths removed, deepest first.
    @discardableResult
    public func pruneMountPoints(_ targets: [String], session: SessionRecord, lowerDirs: [String]) throws(StoreError) -> [String] {
        var removed: [String] = []
        for target in Set(targets).sorted(by: { $0.count > $1.count }) {
            var path = target
            // A file bind mount's point: an empty file the environment does not have.
            var file = stat()
            if lstat(session.upperPath + path, &file) == 0, file.st_mode & S_IFMT == S_IFREG, file.st_size == 0,
               Self.lowerEntry(path, in: lowerDirs) == nil {
                guard unlink(session.upperPath + path) == 0 else { throw StoreError.system(session.upperPath + path, "unlink") }
                removed.append(path)
                path = FileSystem.parent(of: path)
            }
            while path != "/" && !path.isEmpty {
                let upper = session.upperPath + path
                var info = stat()
                guard lstat(upper, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, !SessionDiff.isOpaque(upper) else { break }
                guard try io(try Directory.names(upper)).isEmpty else { break }
                if let lower = Self.lowerEntry(path, in: lowerDirs) {
                    guard lower.st_mode == info.st_mode, lower.st_uid == info.st_uid, lower.st_gid == info.st_gid else { break }
                }
                guard rmdir(upper) == 0 else { throw StoreError.system(upper, "rmdir") }
                removed.append(path)
                path = FileSystem.parent(of: path)
            }
        }
        return removed
    }

    /// What the topmost lower dir with an entry at `path` has there (nil: none, or a whiteout).
    static func lowerEntry(_ path: String, in lowerDirs: [String]) -> stat? {
        for dir in lowerDirs {
            var info = stat()
            guard lstat(dir + path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0 { return nil }
            return info
        }
        return nil
    }
}

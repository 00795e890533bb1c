import CLinux
import Glibc
import StrataOS

/// One path a session changed, as `docker diff` prints it: `A /path`, `C /path` or `D /path`.
public struct SessionChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The path did not exist in the snapshot.
        case added = "A"
        /// The path existed in the snapshot and the session wrote it (or below it).
        case changed = "C"
        /// The path existed in the snapshot and the session removed it.
        case deleted = "D"
    }

    public let kind: Kind
    /// Absolute path in the session.
    public let path: String

    public init(_ kind: Kind, _ path: String) { self.kind = kind; self.path = path }

    public var description: String { kind.rawValue + " " + path }
}

/// What a session changed relative to its snapshot, read from its overlay upper dir
/// against the snapshot's layers, with `docker diff`'s rules:
///
/// - every entry of the upper dir is `C` if the path existed in the snapshot, else `A`
///   (so the directories above a change are listed, as overlayfs copied them up);
/// - a whiteout (0/0 character device) is `D`;
/// - when the session replaced a directory (overlayfs marks it opaque, and everything
///   below it hides the snapshot too), each old entry directly in it that the session
///   did not write again is `D` — only that entry, not what was inside it, as Docker
///   reports one deleted directory.
///
/// Existence in the snapshot follows overlayfs's lookup through the lower layers:
/// whiteouts and opaque directories of upper layers hide what lies below them, a
/// non-directory hides everything below it. Lower layers are store layers (published,
/// immutable) and are read by path; the upper dir may be written while it is read, so
/// it is walked through directory descriptors with `O_NOFOLLOW`. Sorted by path.
public enum SessionDiff {
    /// The changes in `upper` over `lowerDirs` (topmost first).
    public static func changes(upper: String, lowerDirs: [String]) throws(StoreError) -> [SessionChange] {
        let fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system(upper, "open") }
        var changes: [SessionChange] = []
        try walk(fd, display: upper, path: "", lowers: lowerDirs, hidden: false, into: &changes)
        // Byte order, as docker sorts its change list.
        return changes.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
    }

    /// Walks one upper directory (`fd`, closed here) at `path` ("" for the root,
    /// else "/a/b"); `lowers` are the lower dirs in which `path` is a directory that
    /// shows through; `hidden` says the session replaced the snapshot's directory.
    private static func walk(
        _ fd: Int32, display: String, path: String, lowers: [String], hidden: Bool, into changes: inout [SessionChange]
    ) throws(StoreError) {
        defer { close(fd) }
        let names = try io(try Directory.names(fd: fd, display: display))
        var written = Set<String>()
        for name in names {
            let child = path + "/" + name
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                // Gone since it was listed: a running session removed it.
                if errno == ENOENT { continue }
                throw StoreError.system(display + child, "stat")
            }
            if info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0 {
                // Under a replaced directory the listing of the snapshot's names below reports it.
                if !hidden, try lookup(name, in: lowers).exists { changes.append(SessionChange(.deleted, child)) }
                continue
            }
            written.insert(name)
            let below = try lookup(name, in: lowers)
            changes.append(SessionChange(below.exists ? .changed : .added, child))
            guard info.st_mode & S_IFMT == S_IFDIR else { continue }
            let childFD = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard childFD >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { continue }
                throw StoreError.system(display + child, "open")
            }
            // Below a replaced directory nothing of the snapshot shows, opaque mark or not.
            try walk(childFD, display: display, path: child, lowers: below.directories,
                     hidden: hidden || isOpaque(childFD), into: &changes)
        }
        if hidden {
            for name in try listing(lowers) where !written.contains(name) {
                changes.append(SessionChange(.deleted, path + "/" + name))
            }
        }
    }

    /// What the lower layers hold at one name inside a directory.
    struct Lookup {
        /// The name exists in the merged lower view.
        var exists = false
        /// The lower dirs, topmost first, where it is a directory that shows through.
        var directories: [String] = []
    }

    /// overlayfs's lookup of `name` in a directory whose visible copies are `lowers`.
    static func lookup(_ name: String, in lowers: [String]) throws(StoreError) -> Lookup {
        var result = Lookup()
        for lower in lowers {
            let path = lower + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else {
                if errno == ENOENT { continue }
                throw StoreError.system(path, "stat")
            }
            let type = info.st_mode & S_IFMT
            if type == S_IFCHR && info.st_rdev == 0 { break }
            result.exists = true
            // A file hides everything below; below a directory, it ends the merge.
            guard type == S_IFDIR else { break }
            result.directories.append(path)
            if isOpaque(path) { break }
        }
        return result
    }

    /// The merged lower view's names in one directory (its visible copies, topmost first).
    static func listing(_ lowers: [String]) throws(StoreError) -> [String] {
        var seen = Set<String>()
        var visible: [String] = []
        for lower in lowers {
            let fd = open(lower, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw StoreError.system(lower, "open") }
            defer { close(fd) }
            for name in try io(try Directory.names(fd: fd, display: lower)) where seen.insert(name).inserted {
                var info = stat()
                guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw StoreError.system(lower + "/" + name, "stat") }
                if info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0 { continue }
                visible.append(name)
            }
        }
        return visible
    }

    static func isOpaque(_ fd: Int32) -> Bool {
        var value: [UInt8] = [0, 0]
        for attribute in ["trusted.overlay.opaque", "user.overlay.opaque"] {
            if fgetxattr(fd, attribute, &value, value.count) == 1 && value[0] == UInt8(ascii: "y") { return true }
        }
        return false
    }

    static func isOpaque(_ path: String) -> Bool {
        var value: [UInt8] = [0, 0]
        for attribute in ["trusted.overlay.opaque", "user.overlay.opaque"] {
            if lgetxattr(path, attribute, &value, value.count) == 1 && value[0] == UInt8(ascii: "y") { return true }
        }
        return false
    }
}

extension Store {
    /// `docker diff` for a session: its changes against its snapshot's layers.
    public func diff(_ session: SessionRecord) throws(StoreError) -> [SessionChange] {
        try SessionDiff.changes(upper: session.upperPath, lowerDirs: lowerDirs(for: session.snapshot))
    }
}

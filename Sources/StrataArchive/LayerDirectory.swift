import Glibc
import StrataOS
import StrataOS

/// The destination of an unpack, reached only through directory file descriptors.
///
/// Every path is walked one component at a time from the root descriptor with
/// `O_NOFOLLOW`, so no symlink (already written by the layer, or planted by anyone) is
/// ever followed, and nothing outside the root can be named.
final class LayerDirectory {
    let root: FileDescriptor

    init(path: String) throws(ArchiveError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, reason: SystemError.text(errno)) }
        root = FileDescriptor(owning: fd)
    }

    /// Opens the directory at `path`. With `create`, missing components are made (mode
    /// 0755, owned by the caller) as tar extractors do for implicit parents.
    /// Symlinks and non-directories on the way are refused as `unsafeEntry(entry)`.
    func openDirectory(_ path: EntryPath, create: Bool, entry: String) throws(ArchiveError) -> FileDescriptor {
        guard var current = root.duplicate() else { throw .io(path: "/", reason: SystemError.text(errno)) }
        for (index, component) in path.components.enumerated() {
            var next = openat(current.raw, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                guard mkdirat(current.raw, component, 0o755) == 0 else {
                    throw .io(path: prefix(path, index), reason: SystemError.text(errno))
                }
                next = openat(current.raw, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard next >= 0 else {
                let code = errno
                if code == ELOOP || code == ENOTDIR {
                    let kind = fileType(in: current.raw, component) == S_IFLNK ? "a symbolic link" : "not a directory"
                    throw .unsafeEntry(entry: entry, reason: "'\(prefix(path, index))' is \(kind)")
                }
                throw .io(path: prefix(path, index), reason: SystemError.text(code))
            }
            current = FileDescriptor(owning: next)
        }
        return current
    }

    /// The type bits (`S_IFMT`) of `name` in `directory`, not following symlinks; nil if absent.
    func fileType(in directory: Int32, _ name: [CChar]) -> mode_t? {
        var st = stat()
        guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    /// Removes `name` from `directory` (recursively for a directory) without following links.
    func remove(_ name: [CChar], in directory: Int32, path: String) throws(ArchiveError) {
        guard let type = fileType(in: directory, name) else { return }
        if type == S_IFDIR {
            try removeContents(of: name, in: directory, path: path)
            guard unlinkat(directory, name, AT_REMOVEDIR) == 0 else { throw .io(path: path, reason: SystemError.text(errno)) }
        } else {
            guard unlinkat(directory, name, 0) == 0 else { throw .io(path: path, reason: SystemError.text(errno)) }
        }
    }

    private func removeContents(of name: [CChar], in directory: Int32, path: String) throws(ArchiveError) {
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, reason: SystemError.text(errno)) }
        let owned = FileDescriptor(owning: fd)
        let names: [[CChar]]
        do { names = try Directory.entries(fd: fd, display: path).map(\.rawName) } catch {
            throw .io(path: path, reason: error.reason)
        }
        for child in names {
            try remove(child, in: owned.raw, path: path + "/" + String(decoding: child.nameBytes, as: UTF8.self))
        }
    }

    private func prefix(_ path: EntryPath, _ index: Int) -> String {
        EntryPath(components: Array(path.components[0...index])).display
    }
}

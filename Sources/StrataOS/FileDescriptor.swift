import Glibc

/// An open file descriptor, closed when the last reference goes away.
///
/// Owns exactly one descriptor; every descriptor strata opens for longer than one
/// function is held by one of these. Not thread-safe to close early.
public final class FileDescriptor {
    public let raw: Int32

    public init(owning raw: Int32) { self.raw = raw }

    deinit { close(raw) }

    /// Opens `path` (always close-on-exec).
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(SystemError) -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        return FileDescriptor(owning: fd)
    }

    /// Opens the directory at `path` without following a symlink in its last component.
    public static func openDirectory(_ path: String) throws(SystemError) -> FileDescriptor {
        try open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    }

    /// Opens `name` relative to this directory (close-on-exec); `display` names it in errors.
    public func open(_ name: String, _ flags: Int32, mode: mode_t = 0, display: String) throws(SystemError) -> FileDescriptor {
        let fd = openat(raw, name, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", path: display) }
        return FileDescriptor(owning: fd)
    }

    /// A second descriptor for the same open file (close-on-exec).
    public func duplicate() -> FileDescriptor? {
        let copy = fcntl(raw, F_DUPFD_CLOEXEC, 0)
        return copy >= 0 ? FileDescriptor(owning: copy) : nil
    }

    /// `fstat(2)` of the descriptor.
    public func status(display: String) throws(SystemError) -> stat {
        var info = stat()
        guard fstat(raw, &info) == 0 else { throw SystemError("fstat", path: display) }
        return info
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, display: String) throws(SystemError) {
        try FileSystem.writeAll(raw, bytes, display: display)
    }
}

import Glibc

/// An open file descriptor, closed when the last reference goes away.
final class FileDescriptor {
    let raw: Int32
    init(owning raw: Int32) { self.raw = raw }
    deinit { close(raw) }

    /// A second descriptor for the same open file (close-on-exec).
    func duplicate() -> FileDescriptor? {
        let copy = fcntl(raw, F_DUPFD_CLOEXEC, 0)
        return copy >= 0 ? FileDescriptor(owning: copy) : nil
    }
}

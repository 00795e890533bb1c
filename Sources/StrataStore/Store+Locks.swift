import Glibc
import StrataOS

/// An exclusive `flock(2)` on a file in the store's `locks/`.
///
/// Guarantees: while it lives no other `StoreLock` of the same name is held,
/// in this process (flock belongs to the open file description) or any other;
/// the kernel releases it when the holder exits, even by SIGKILL. Released by
/// `release()` or when the value is destroyed. The fd is close-on-exec, so a
/// child process never inherits the lock.
public struct StoreLock: ~Copyable {
    /// The lock file.
    public let path: String
    private let fd: Int32

    fileprivate init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Releases the lock now.
    public consuming func release() {}

    deinit { close(fd) }
}

extension Store {
    /// Blocks until the exclusive lock `name` (a file in `locks/`) is held.
    /// Lock files are never deleted: a waiter could otherwise lock a file
    /// that has just been unlinked while a newcomer locks its replacement.
    public func lock(_ name: String) throws(StoreError) -> StoreLock {
        guard let held = try acquireLock(name, blocking: true) else {
            throw .io(path: lockPath(name), reason: "flock: lock not granted")
        }
        return held
    }

    /// Runs `body` holding the exclusive lock `name` (blocking until it is free).
    public func withLock<T>(_ name: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try withLock(name, lockFailure: { $0 }, body)
    }

    /// Runs `body` holding the exclusive lock `name`, for bodies with their own error
    /// type: a failure to take the lock is turned into `E` by `lockFailure`
    /// (for example `StrataError.store`).
    public func withLock<T, E: Error>(
        _ name: String, lockFailure: (StoreError) -> E, _ body: () throws(E) -> T
    ) throws(E) -> T {
        let held: StoreLock
        do throws(StoreError) { held = try lock(name) } catch { throw lockFailure(error) }
        let result: Result<T, E>
        do throws(E) { result = .success(try body()) } catch { result = .failure(error) }
        held.release()
        return try result.get()
    }

    /// Takes the lock only if it is free now; `nil` if another holder has it.
    public func tryLock(_ name: String) throws(StoreError) -> StoreLock? {
        try acquireLock(name, blocking: false)
    }

    func lockPath(_ name: String) -> String { root + "/locks/" + name }

    private func acquireLock(_ name: String, blocking: Bool) throws(StoreError) -> StoreLock? {
        guard !name.isEmpty, name != ".", name != "..", name.utf8.count <= 200,
              !name.contains("/"), !name.utf8.contains(0)
        else { throw .invalidName(name, reason: "a lock name is one non-empty path component") }
        let fd = try flockFile(name, operation: LOCK_EX | (blocking ? 0 : LOCK_NB))
        return fd < 0 ? nil : StoreLock(path: lockPath(name), fd: fd)
    }

    /// Opens (creating) the lock file `name` and flocks it with `operation`; the fd, or -1
    /// when `LOCK_NB` was asked and another holder has it.
    func flockFile(_ name: String, operation: Int32) throws(StoreError) -> Int32 {
        let path = lockPath(name)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw StoreError.system(path, "open") }
        while flock(fd, operation) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK && operation & LOCK_NB != 0 { return -1 }
            throw StoreError.system(path, "flock", code)
        }
        return fd
    }
}

import Glibc
import Synchronization

/// A shared hold on the store's objects: `locks/gc` held shared, which `strata gc` holds
/// exclusively while it marks and sweeps.
///
/// Why: a build publishes layers before any root records them, a pull stages blobs in
/// `tmp/`, a session's setup reads layers before its record exists. Each holds a lease
/// while it works, so gc never runs in between; a session gives its lease back once its
/// record (a root) is written, so a shell open for days never holds gc off. The kernel
/// releases it when the holder dies. Taken once per request, never while another store
/// lock is held (the gc lock is always the outermost).
public final class ObjectLease: Sendable {
    private let descriptor: Mutex<Int32>

    fileprivate init(fd: Int32) { descriptor = Mutex(fd) }

    /// Gives the lease back now; later calls do nothing.
    public func release() {
        descriptor.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// Whether the lease is still held.
    public var isHeld: Bool { descriptor.withLock { $0 >= 0 } }

    deinit { release() }
}

extension Store {
    static let collectionLock = "gc"

    /// Blocks while a gc runs, then holds the store's objects for this request.
    public func leaseObjects() throws(StoreError) -> ObjectLease {
        ObjectLease(fd: try flockFile(Store.collectionLock, operation: LOCK_SH))
    }

}

extension Store {
    /// Runs `body` holding gc's lock exclusively: it waits for every lease to be given back
    /// and keeps new ones waiting until `body` returns.
    public func whileCollecting<T, E: Error>(lockFailure: (StoreError) -> E, _ body: () throws(E) -> T) throws(E) -> T {
        try withLock(Store.collectionLock, lockFailure: lockFailure, body)
    }
}

import Glibc
import StrataModel
import StrataOS

/// What the store holds, kind by kind: the lists gc sweeps and `system df` measures.
extension Store {
    /// Digests of the blobs in `blobs/sha256/`, sorted. Names that are not a digest (which
    /// no publish makes) are left out; fsck reports them.
    public func storedBlobs() throws(StoreError) -> [Digest] {
        try digestNames(root + "/blobs/sha256")
    }

    /// Keys of the layers in `layers/`, sorted.
    public func storedLayers() throws(StoreError) -> [Digest] {
        try digestNames(root + "/layers")
    }

    /// Chain ids of the snapshots in `snapshots/`, sorted.
    public func storedSnapshots() throws(StoreError) -> [Digest] {
        try digestNames(root + "/snapshots")
    }

    /// Keys of the layers with a seal (`seals/`), sorted: a seal whose layer is gone is gc's.
    public func sealedLayers() throws(StoreError) -> [Digest] {
        try digestNames(root + "/seals", missingIsEmpty: true)
    }

    /// The keys of `cache`'s entries, sorted; none when it was never used.
    public func cacheKeys(_ cache: StoreCache) throws(StoreError) -> [String] {
        try names(cacheDirectory(cache), missingIsEmpty: true).sorted()
    }

    /// The path of entry `key` of `cache`, whether or not it exists.
    public func cacheEntryPath(_ cache: StoreCache, _ key: String) -> String { cacheDirectory(cache) + "/" + key }

    /// The names directly under `tmp/`, sorted.
    public func temporaryNames() throws(StoreError) -> [String] {
        try names(temporaryDirectory, missingIsEmpty: true).sorted()
    }

    /// The process id a `temporaryPath(_:)` name carries (`HINT.PID.RANDOM`), or nil for the
    /// names made under a lock instead (`layer-HEX`, `session-ID`).
    public static func owner(ofTemporary name: String) -> pid_t? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = pid_t(parts[parts.count - 2]), pid > 0,
              parts[parts.count - 1].utf8.count == 16 else { return nil }
        return pid
    }

    private func digestNames(_ directory: String, missingIsEmpty: Bool = false) throws(StoreError) -> [Digest] {
        try names(directory, missingIsEmpty: missingIsEmpty).compactMap { try? Digest(hex: $0) }.sorted()
    }

    private func names(_ directory: String, missingIsEmpty: Bool) throws(StoreError) -> [String] {
        do { return try Directory.names(directory).filter { !$0.hasPrefix(".") } } catch {
            if missingIsEmpty && error.errno == ENOENT { return [] }
            throw StoreError(error)
        }
    }
}

extension Store {
    /// Whether nothing alive can still be using the temporary `name` under `tmp/`: its
    /// owning process is gone, or the lock it is made under (`layer-HEX`, the sessions
    /// lock for `session-ID`) is free. Other names are no live process's.
    public func isAbandonedTemporary(_ name: String) -> Bool {
        if let pid = Store.owner(ofTemporary: name) { return kill(pid, 0) != 0 && errno == ESRCH }
        let lockName = name.hasPrefix("layer-") ? name : name.hasPrefix("session-") ? Store.sessionsLock : nil
        guard let lockName else { return true }
        do {
            guard let held = try tryLock(lockName) else { return false }
            held.release()
            return true
        } catch {
            return false
        }
    }

    /// Removes the lock file `name` if nobody holds it. Only for locks of objects that are
    /// gone, under gc's exclusive lock: everyone who could wait on them holds a lease.
    public func removeUnusedLock(_ name: String) {
        do {
            guard let held = try tryLock(name) else { return }
            unlink(lockPath(name))
            held.release()
        } catch {
            return
        }
    }

    /// The names in `locks/`.
    public func lockNames() throws(StoreError) -> [String] {
        do { return try Directory.names(root + "/locks") } catch { throw StoreError(error) }
    }
}

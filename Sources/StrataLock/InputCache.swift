import Glibc
import StrataEnvironment
import StrataModel
import StrataStore
import StrataOS

/// Remembers the digests of local inputs (tarballs, copied trees) by what `stat`
/// says about them, so that checking a lockfile on every `strata run` neither
/// re-reads nor re-decompresses inputs nobody touched — git's index does the same.
///
/// Guarantees: an entry is only written for an input whose newest change is at
/// least `settle` seconds old, because file timestamps are coarser than the
/// writes they describe (git's "racily clean" problem); a missing or unreadable
/// entry only costs a recomputation. Entries live in the store's `StoreCache.inputs`.
struct InputCache {
    static let settle = 2

    let store: Store
    /// Seconds since the epoch, now (injected, so tests need not wait for the clock).
    let now: @Sendable () -> Int64

    init(store: Store, now: @escaping @Sendable () -> Int64) { self.store = store; self.now = now }

    /// The values recorded under `key`, if any.
    func lookup(_ key: Digest) -> [String]? {
        guard let bytes = store.cached(.inputs, key.hex) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: " ").map(String.init)
    }

    /// Records `values` under `key` when the input settled. A failure only costs the
    /// next check a recomputation, so it is not reported.
    func record(_ key: Digest, _ values: [String], newestChange: Int) {
        guard now() - Int64(newestChange) >= Int64(Self.settle) else { return }
        try? store.storeCached(.inputs, key.hex, Array(values.joined(separator: " ").utf8))
    }

    /// The key of a single file: its path and identity as `stat` reports them.
    static func fileKey(_ kind: String, path: String, _ info: stat) -> Digest {
        Digest.sha256(of: Array("""
            \(kind) \(path) \(info.st_dev) \(info.st_ino) \(info.st_size) \
            \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)
            """.utf8))
    }
}

import Glibc
import StrataModel
import StrataOS

/// What the store remembers to avoid work, by kind: each a directory under `cache/`.
/// Losing an entry only costs redoing the work it saved; a damaged one is never used.
public enum StoreCache: String, Sendable, CaseIterable {
    /// Digests of local inputs (copied trees, tarballs) by their `stat` fingerprint.
    case inputs
    /// Seccomp BPF programs by everything that shapes them.
    case seccomp
    /// Which blob carries a store layer in images, per compression.
    case imageLayers = "image-layers"
    /// Decompressed Debian `Packages` indexes, by the digest of the signed compressed index.
    case debianIndexes = "debian"
    /// The layer (diff id) each `run` step made, by its key (`LayerKeys.runStep`).
    case runSteps = "run-steps"
    /// The snapshot a lockfile with `run` steps built into, by the lockfile's digest and epoch.
    case builds
    /// Registry repositories (`HOST/REPO` lines) known to hold a blob, by its digest: where
    /// a push mounts it from instead of uploading it again.
    case registryBlobs = "registry-blobs"
}

extension Store {
    /// Largest small entry read back (`cached(_:_:)`).
    static let cacheEntryLimit = 4 << 20

    func cacheDirectory(_ cache: StoreCache) -> String { root + "/cache/" + cache.rawValue }

    /// The entry `key` of `cache` as `storeCached` wrote it, its recorded digest checked
    /// first; nil when there is none or it does not match (a damaged entry is removed).
    ///
    /// Entries are small (a record, a BPF program): the whole entry is read and hashed.
    public func cached(_ cache: StoreCache, _ key: String) -> [UInt8]? {
        cached(cache, key, removingDamaged: true)
    }

    /// The entry as `cached(_:_:)` reads it; a damaged one is removed only when asked
    /// (gc's dry run reads entries without changing anything).
    public func cached(_ cache: StoreCache, _ key: String, removingDamaged: Bool) -> [UInt8]? {
        let path = cacheEntryPath(cache, key)
        // Absent and unreadable are the same to a cache: the work is done again.
        guard let bytes = try? FileSystem.readFile(path, limit: Store.cacheEntryLimit) else { return nil }
        guard let newline = bytes.firstIndex(of: 0x0A),
              let header = String(validating: bytes[..<newline], as: UTF8.self) else {
            if removingDamaged { unlink(path) }
            return nil
        }
        let payload = Array(bytes[(newline + 1)...])
        let fields = header.split(separator: " ")
        guard fields.count == 3, fields[0] == "strata-cache-1", Int(fields[2]) == payload.count,
              let recorded = try? Digest(parsing: String(fields[1])), recorded == Digest.sha256(of: payload) else {
            if removingDamaged { unlink(path) }
            return nil
        }
        return payload
    }

    /// Records `bytes` as the entry `key` of `cache`, with their digest, through `tmp/`
    /// and a rename into the cache's directory (created 0700), which is then synced.
    public func storeCached(_ cache: StoreCache, _ key: String, _ bytes: [UInt8]) throws(StoreError) {
        let header = "strata-cache-1 \(Digest.sha256(of: bytes)) \(bytes.count)\n"
        let temporary = temporaryPath("cache-" + cache.rawValue)
        try io(try FileSystem.createFile(temporary, contents: Array(header.utf8) + bytes, mode: 0o600))
        try publishCacheEntry(cache, key, temporaryFile: temporary)
    }

    /// The path of the file entry `key` of `cache` (a decompressed index, read as a file);
    /// nil when there is none.
    public func cachedFile(_ cache: StoreCache, _ key: String) -> String? {
        let path = cacheEntryPath(cache, key)
        return FileSystem.exists(path) ? path : nil
    }

    /// Moves the finished file at a `temporaryPath(_:)` into `cache` as the file entry
    /// `key` (see `cachedFile`), the cache's directory synced, and returns the entry's
    /// path; the file is gone from `tmp/` either way.
    @discardableResult
    public func publishCachedFile(_ cache: StoreCache, _ key: String, temporaryFile path: String) throws(StoreError) -> String {
        try checkTemporary(path)
        do throws(StoreError) {
            let file = try io(try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW))
            guard fsync(file.raw) == 0 else { throw StoreError.system(path, "fsync") }
        } catch {
            unlink(path)
            throw error
        }
        try publishCacheEntry(cache, key, temporaryFile: path)
        return cacheEntryPath(cache, key)
    }

    private func publishCacheEntry(_ cache: StoreCache, _ key: String, temporaryFile path: String) throws(StoreError) {
        do throws(StoreError) {
            try Store.validateCacheKey(key)
            try io(try FileSystem.makeDirectory(root + "/cache", mode: 0o700))
            try io(try FileSystem.makeDirectory(cacheDirectory(cache), mode: 0o700))
            try io(try FileSystem.rename(path, to: cacheEntryPath(cache, key), durable: true))
        } catch {
            unlink(path)
            throw error
        }
    }


    /// Keys are names strata makes (hex digests and a variant): one plain path component.
    static func validateCacheKey(_ key: String) throws(StoreError) {
        guard !key.isEmpty, key.utf8.count <= 200, key.utf8.allSatisfy({ byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a)
                || byte == 0x2d || byte == 0x5f || byte == 0x2e
        }), key.first != "." else {
            throw .invalidName(key, reason: "a cache key is letters, digits, '-', '_' and '.'")
        }
    }
}

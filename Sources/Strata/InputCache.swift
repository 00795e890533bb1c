import Glibc
import StrataModel
import StrataOS

/// Remembers the digests of local inputs (tarballs, copied trees) by what `stat`
/// says about them, so that checking a lockfile on every `strata run` neither
/// re-reads nor re-decompresses inputs nobody touched — git's index does the same.
///
/// Guarantees: an entry is only written for an input whose newest change is at
/// least `settle` seconds old, because file timestamps are coarser than the
/// writes they describe (git's "racily clean" problem); a missing or unreadable
/// entry only costs a recomputation. Entries live in the store's `cache/inputs/`.
struct InputCache {
    static let settle = 2

    let directory: String

    init(storeRoot: String) { directory = storeRoot + "/cache/inputs" }

    /// The values recorded under `key`, if any.
    func lookup(_ key: Digest) -> [String]? {
        guard let bytes = try? HostFile.read(directory + "/" + key.hex, limit: 4096) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: " ").map(String.init)
    }

    /// Records `values` under `key` when the input settled; failures are ignored (it is a cache).
    func record(_ key: Digest, _ values: [String], newestChange: Int) {
        guard Int(time(nil)) - newestChange >= Self.settle else { return }
        if access(directory, F_OK) != 0 {
            _ = mkdir(String(directory.dropLast("/inputs".count)), 0o700)
            _ = mkdir(directory, 0o700)
        }
        try? HostFile.writeAtomically(Array(values.joined(separator: " ").utf8), to: directory + "/" + key.hex, mode: 0o600)
    }

    /// The key of a single file: its path and identity as `stat` reports them.
    static func fileKey(_ kind: String, path: String, _ info: stat) -> Digest {
        Digest.sha256(of: Array("""
            \(kind) \(path) \(info.st_dev) \(info.st_ino) \(info.st_size) \
            \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)
            """.utf8))
    }
}

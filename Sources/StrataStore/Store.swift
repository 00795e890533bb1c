import StrataModel
import StrataArchive

/// Why a store operation failed. Each case names the path or digest it is about.
public enum StoreError: Error, Equatable, Sendable {
    case io(path: String, reason: String)
    /// Bytes offered for a digest did not hash to it (or had the wrong size); nothing was published.
    case digestMismatch(expected: Digest, actual: Digest, source: String)
    case sizeMismatch(digest: Digest, expected: Int64, actual: Int64, source: String)
    case missingBlob(Digest)
    case unpack(blob: Digest, ArchiveError)
    /// A layer unpacked from `blob` had a different diff id than the lock pinned.
    case diffIDMismatch(blob: Digest, expected: Digest, actual: Digest)
    case sessionExists(String)
    case noSuchSession(String)
}

/// The on-disk, content-addressed home of blobs, layers, snapshots and sessions
/// (DESIGN.md, Store layout). The root is also an OCI image layout.
///
/// Guarantees: every object appears by rename(2) from `tmp/`, complete and
/// verified; published blobs, layers and snapshots are never modified; several
/// processes may use one store at once (flock in `locks/`).
public final class Store: Sendable {
    public let root: String

    /// Opens (creating if needed, mode 0700) the store at `root`.
    public init(root: String) throws(StoreError) {
        self.root = root
        throw .io(path: root, reason: "not implemented")
    }

    /// `$STRATA_ROOT`, else `/var/lib/strata` for root, else `$XDG_DATA_HOME/strata`
    /// (`~/.local/share/strata`).
    public static func defaultRoot(environment: [String: String]) -> String { "/var/lib/strata" }

    // MARK: blobs
    public func blobPath(_ digest: Digest) -> String { root + "/blobs/sha256/" + digest.hex }
    public func hasBlob(_ digest: Digest) -> Bool { false }
    /// Copies the file at `path` into the store as blob `digest`, hashing while copying;
    /// publishes only if size (when given) and digest match.
    public func ingestBlob(copying path: String, expected digest: Digest, size: Int64? = nil) throws(StoreError) {}
    /// Stores `bytes` and returns their digest.
    public func ingestBlob(bytes: [UInt8]) throws(StoreError) -> Digest { throw .io(path: root, reason: "not implemented") }

    // MARK: layers
    public func layerPath(_ diffID: Digest) -> String { root + "/layers/" + diffID.hex }
    public func hasLayer(_ diffID: Digest) -> Bool { false }
    /// Unpacks blob `blob` into layer `diffID` unless that layer exists. Returns true if
    /// this call did the unpacking. Two processes asking for the same layer unpack it once.
    @discardableResult
    public func publishLayer(diffID: Digest, fromBlob blob: Digest) throws(StoreError) -> (unpacked: Bool, warnings: [String]) {
        throw .io(path: root, reason: "not implemented")
    }

    // MARK: snapshots
    /// Records the snapshot made of `diffIDs` (bottom first), returning its chain id.
    /// All layers must already be published.
    public func publishSnapshot(diffIDs: [Digest]) throws(StoreError) -> Digest { throw .io(path: root, reason: "not implemented") }
    public func hasSnapshot(_ chainID: Digest) -> Bool { false }
}

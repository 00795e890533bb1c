import Glibc
import StrataOS
import StrataModel

extension Store {
    /// Largest snapshot record read back: 72 bytes per layer, far beyond any real stack.
    static let snapshotRecordLimit = 1 << 20

    public func snapshotPath(_ chainID: Digest) -> String { root + "/snapshots/" + chainID.hex }

    /// Records the snapshot made of `diffIDs` (bottom first), returning its chain id.
    /// All layers must already be published.
    ///
    /// The record `snapshots/<chain hex>` holds one `sha256:` diff id per line,
    /// bottom first; it is never modified once published.
    public func publishSnapshot(diffIDs: [Digest]) throws(StoreError) -> Digest {
        guard let chainID = Digest.chainID(of: diffIDs) else { throw .emptySnapshot }
        for diffID in diffIDs where !hasLayer(diffID) { throw .missingLayer(diffID) }
        if hasSnapshot(chainID) { return chainID }
        let text = diffIDs.map { $0.description + "\n" }.joined()
        let temporary = temporaryPath("snapshot-" + chainID.short)
        try io(try FileSystem.createFile(temporary, contents: Array(text.utf8), mode: 0o444))
        do throws(StoreError) { try io(try FileSystem.rename(temporary, to: snapshotPath(chainID), durable: true)) } catch {
            unlink(temporary)
            throw error
        }
        return chainID
    }

    public func hasSnapshot(_ chainID: Digest) -> Bool { FileSystem.exists(snapshotPath(chainID)) }

    /// The diff ids of snapshot `chainID`, bottom first. The record is checked
    /// against its name: a record whose chain id differs is reported as corrupt.
    public func snapshotLayers(_ chainID: Digest) throws(StoreError) -> [Digest] {
        let path = snapshotPath(chainID)
        guard let bytes = try io(try FileSystem.readFile(path, limit: Store.snapshotRecordLimit)) else {
            throw .missingSnapshot(chainID)
        }
        var diffIDs: [Digest] = []
        for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            let text = String(decoding: line, as: UTF8.self)
            do { diffIDs.append(try Digest(parsing: text)) } catch {
                throw .corrupt(path: path, reason: "line \(number + 1): not a sha256 digest: \(text)")
            }
        }
        guard let computed = Digest.chainID(of: diffIDs) else { throw .corrupt(path: path, reason: "no layers") }
        guard computed == chainID else {
            throw .corrupt(path: path, reason: "layers have chain id \(computed)")
        }
        return diffIDs
    }

    /// Overlayfs lower dirs of snapshot `chainID`: absolute layer paths, topmost first.
    public func lowerDirs(for chainID: Digest) throws(StoreError) -> [String] {
        lowerDirs(forLayers: try snapshotLayers(chainID))
    }

    /// Overlayfs lower dirs of the stack `diffIDs` (given bottom first), topmost first.
    public func lowerDirs(forLayers diffIDs: [Digest]) -> [String] {
        diffIDs.reversed().map(layerPath)
    }
}

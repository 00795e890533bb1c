import Glibc
import StrataOS
import StrataModel
import StrataArchive

extension Store {
    public func layerPath(_ diffID: Digest) -> String { root + "/layers/" + diffID.hex }

    public func hasLayer(_ diffID: Digest) -> Bool { FileSystem.exists(layerPath(diffID)) }

    /// Unpacks blob `blob` into layer `diffID` unless that layer exists. Returns true if
    /// this call did the unpacking. Two processes asking for the same layer unpack it once.
    ///
    /// The unpacked tree must hash (as a tar stream) to `diffID`; otherwise nothing
    /// is published and the error is `diffIDMismatch`.
    @discardableResult
    public func publishLayer(diffID: Digest, fromBlob blob: Digest) throws(StoreError) -> (unpacked: Bool, warnings: [String]) {
        // Layers appear only complete (by rename), so seeing one needs no lock.
        if hasLayer(diffID) { return (false, []) }
        guard hasBlob(blob) else { throw .missingBlob(blob) }
        let archive = blobPath(blob)
        return try publishLayerTree(diffID) { (directory) throws(StoreError) -> [String] in
            let report: UnpackReport
            do throws(ArchiveError) {
                report = try LayerUnpacker().unpack(archiveAt: archive, into: directory)
            } catch {
                throw .unpack(blob: blob, error)
            }
            guard report.diffID == diffID else {
                throw .diffIDMismatch(blob: blob, expected: diffID, actual: report.diffID)
            }
            return report.warnings
        }
    }

    /// Publishes the empty layer that `scratch` environments stand on, under the
    /// diff id of an empty tar, and returns that diff id.
    @discardableResult
    public func emptyLayer() throws(StoreError) -> Digest {
        let diffID = LayerKeys.emptyLayer
        if !hasLayer(diffID) {
            _ = try publishLayerTree(diffID) { (_) throws(StoreError) -> [String] in [] }
        }
        return diffID
    }

    /// Publishes a layer that is not a tar stream's unpacking (a `.deb`'s files, a generated
    /// dpkg database, the result of maintainer scripts) under `key`, a digest of what it is
    /// made from. `fill` writes the tree into the empty directory it is given.
    @discardableResult
    public func publishLayer(
        key: Digest, fill: (String) throws(StoreError) -> [String]
    ) throws(StoreError) -> (unpacked: Bool, warnings: [String]) {
        if hasLayer(key) { return (false, []) }
        return try publishLayerTree(key, fill: fill)
    }

    /// A new file inside a layer being filled (`publishLayer(key:fill:)`) or under `tmp/`, with exactly
    /// `mode` whatever the umask. Not fsynced: publishing the layer syncs the file system.
    public static func createLayerFile(_ path: String, contents: [UInt8], mode: mode_t = 0o644) throws(StoreError) {
        try io(try FileSystem.createFile(path, contents: contents, mode: mode, durable: false))
    }

    /// A directory inside a layer being filled, with exactly `mode`; an existing one is fine.
    public static func createLayerDirectory(_ path: String, mode: mode_t = 0o755) throws(StoreError) {
        try io(try FileSystem.makeDirectory(path, mode: mode))
    }

    /// Moves `directory` (a tree in this store's file system, such as a session's upper
    /// dir) into place as layer `key`, unless that layer exists already.
    public func adoptLayer(key: Digest, directory: String) throws(StoreError) {
        try withLock("layer-" + key.hex) { () throws(StoreError) in
            if hasLayer(key) { return }
            try writeSeal(of: directory, as: key)
            try io(try FileSystem.syncFileSystem(containing: directory))
            try io(try FileSystem.rename(directory, to: layerPath(key), durable: true))
        }
    }

    /// Removes layer `key` (gc, which has decided nothing stands on it). One rename takes it
    /// out of `layers/` first: a removal cut short leaves garbage in `tmp/`, never a layer
    /// with files missing under its name.
    public func removeLayer(_ key: Digest) throws(StoreError) {
        if let doomed = try detachLayer(key) { try io(try FileSystem.removeTree(doomed)) }
    }

    /// Takes layer `key` out of `layers/` by one rename into `tmp/` and drops its seal; returns
    /// where its tree went (this process's temporary, for the caller to remove once it no
    /// longer holds gc's lock: a tree of 10,000 files takes seconds), nil when it was gone.
    public func detachLayer(_ key: Digest) throws(StoreError) -> String? {
        let doomed = temporaryPath("removed-layer-" + key.short)
        var moved = true
        do { try FileSystem.rename(layerPath(key), to: doomed) } catch {
            if error.errno != ENOENT { throw StoreError(error) }
            moved = false
        }
        // The seal goes after the name: a layer is never left without one.
        if unlink(sealPath(key)) != 0 && errno != ENOENT { throw StoreError.system(sealPath(key), "unlink") }
        return moved ? doomed : nil
    }

    /// The one way a layer comes into being: under `locks/layer-<hex>`, `fill`
    /// writes a fresh `tmp/layer-<hex>`, which is then synced and renamed to
    /// `layers/<hex>`. Returns whether this call published it.
    func publishLayerTree(
        _ diffID: Digest, fill: (String) throws(StoreError) -> [String]
    ) throws(StoreError) -> (unpacked: Bool, warnings: [String]) {
        try withLock("layer-" + diffID.hex) { () throws(StoreError) -> (unpacked: Bool, warnings: [String]) in
            if hasLayer(diffID) { return (false, []) }
            let work = root + "/tmp/layer-" + diffID.hex
            // Whatever is there was left by a crashed attempt: the lock says nobody else is at it.
            try io(try FileSystem.removeTree(work))
            try io(try FileSystem.makeDirectory(work, mode: 0o755))
            let warnings: [String]
            do throws(StoreError) {
                warnings = try fill(work)
                try writeSeal(of: work, as: diffID)
                try io(try FileSystem.syncFileSystem(containing: work))
                try io(try FileSystem.rename(work, to: layerPath(diffID), durable: true))
            } catch {
                // Best effort: a leftover is removed by the next attempt anyway.
                do throws(StoreError) { try io(try FileSystem.removeTree(work)) } catch {}
                throw error
            }
            return (true, warnings)
        }
    }
}

import Glibc
import StrataModel
import StrataOS

/// Where `fsck --repair` moves what it found corrupt (`quarantine/KIND-HEX-TIME`): out of the
/// names the store uses, kept for a person to look at, never read by strata again.
extension Store {
    public var quarantineDirectory: String { root + "/quarantine" }

    /// Moves the blob out of `blobs/`; returns where it went.
    @discardableResult
    public func quarantineBlob(_ digest: Digest, now: Int64) throws(StoreError) -> String {
        try quarantine(blobPath(digest), as: "blob-" + digest.hex, now: now)
    }

    /// Moves the layer out of `layers/` and drops its seal; returns where it went.
    @discardableResult
    public func quarantineLayer(_ key: Digest, now: Int64) throws(StoreError) -> String {
        let moved = try quarantine(layerPath(key), as: "layer-" + key.hex, now: now)
        if unlink(sealPath(key)) != 0 && errno != ENOENT { throw StoreError.system(sealPath(key), "unlink") }
        return moved
    }

    /// Forgets a snapshot record (it names a layer that is gone): a build publishes it again.
    public func removeSnapshot(_ chainID: Digest) throws(StoreError) {
        if unlink(snapshotPath(chainID)) != 0 && errno != ENOENT { throw StoreError.system(snapshotPath(chainID), "unlink") }
    }

    private func quarantine(_ path: String, as name: String, now: Int64) throws(StoreError) -> String {
        try io(try FileSystem.makeDirectory(quarantineDirectory, mode: 0o700))
        var target = quarantineDirectory + "/" + name + "-" + String(now)
        var suffix = 1
        while FileSystem.exists(target) {
            target = quarantineDirectory + "/" + name + "-" + String(now) + "." + String(suffix)
            suffix += 1
        }
        try io(try FileSystem.rename(path, to: target, durable: true))
        return target
    }
}

import Glibc
import StrataArchive
import StrataModel
import StrataOS

/// A layer's seal: its `TreeManifest` as published (`seals/<hex>`), what fsck compares the
/// layer with. A layer's name is the digest of where it came from (a tar stream, a `.deb`, a
/// step's key), which its tree cannot be hashed back to; the seal is what it was made into.
extension Store {
    /// Largest seal read back: 200 bytes a line for a million entries.
    static let sealLimit = 256 << 20

    public func sealPath(_ key: Digest) -> String { root + "/seals/" + key.hex }

    /// The seal recorded for layer `key`, line by line; nil for a layer published before
    /// strata recorded seals.
    public func seal(of key: Digest) throws(StoreError) -> [String]? {
        guard let bytes = try io(try FileSystem.readFile(sealPath(key), limit: Store.sealLimit)) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// The manifest of layer `key`'s tree as it is now.
    public func currentManifest(of key: Digest) throws(StoreError) -> [String] {
        try io(try TreeManifest.lines(of: layerPath(key)))
    }

    /// Records the seal of the tree at `directory`, which is about to become layer `key`
    /// (or is it already: `fsck --repair` sealing a layer published before seals). The seal
    /// is in place before the layer is, so that every layer published from now on has one;
    /// `durable` for a layer that exists already.
    public func writeSeal(of directory: String, as key: Digest, durable: Bool = false) throws(StoreError) {
        let lines = try io(try TreeManifest.lines(of: directory))
        let text = lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
        let temporary = temporaryPath("seal-" + key.short)
        do throws(StoreError) {
            try io(try FileSystem.makeDirectory(root + "/seals", mode: 0o700))
            // Not fsynced on its own when publishing: the layer's publish syncs the file system
            // before its rename. A layer that exists already (fsck --repair) is sealed durably.
            try io(try FileSystem.createFile(temporary, contents: Array(text.utf8), mode: 0o444, durable: durable))
            try io(try FileSystem.rename(temporary, to: sealPath(key), durable: durable))
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

import StrataModel

/// Digests of archives that do not need unpacking.
public enum TarDigest {
    /// sha256 of the decompressed stream of a (possibly compressed) tar: its diff id.
    public static func diffID(ofArchiveAt path: String) throws(ArchiveError) -> Digest {
        throw .unreadable(path: path, reason: "not implemented")
    }
}

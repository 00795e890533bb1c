import StrataModel

/// Digests of archives that do not need unpacking.
public enum TarDigest {
    /// sha256 of the decompressed stream of a (possibly compressed) tar: its diff id.
    ///
    /// Reads gzip, xz, zstd, bzip2, lz4 or uncompressed input; equals the `diffID` that
    /// `LayerUnpacker` reports for the same file. Bytes after the compressed stream are
    /// refused as `corrupt`.
    public static func diffID(ofArchiveAt path: String) throws(ArchiveError) -> Digest {
        let stream = try DecompressedStream.open(path: path, maxBytes: .max)
        try stream.drain()
        return stream.digest()
    }
}

import CArchive
import Glibc
import StrataModel

/// Caps applied while reading untrusted archives.
public struct UnpackLimits: Sendable {
    public var maxUncompressedBytes: Int64 = 64 << 30
    public var maxEntries: Int = 4_000_000
    public var maxNameBytes: Int = 4096
    /// Cap on the xattrs of one entry (names plus values).
    public var maxXattrBytes: Int = 64 << 10
    public init() {}
    public static let `default` = UnpackLimits()
}

/// What an unpack did.
public struct UnpackReport: Sendable, Equatable {
    /// sha256 of the uncompressed tar stream (the OCI diff id).
    public var diffID: Digest
    public var entries: Int
    /// One line per dropped device node or ignored item, naming the entry.
    public var warnings: [String]
    public init(diffID: Digest, entries: Int, warnings: [String]) {
        self.diffID = diffID; self.entries = entries; self.warnings = warnings
    }
}

/// Unpacks a layer tarball (uncompressed, gzip, xz, zstd, bzip2, lz4) into a directory
/// that overlayfs can use as a lower dir. Never writes outside `destination`.
///
/// Guarantees: only tar formats are read; names are cleaned and may not climb above the
/// root; nothing is written through a symlink; hardlinks only to regular files this layer
/// wrote; OCI whiteouts become overlay whiteouts (0/0 character devices, the
/// `trusted.overlay.opaque` xattr); the overlay's own encodings, device nodes and sockets
/// in the input are dropped; ownership is numeric. The diff id is computed in the same pass.
/// On error the destination may hold a partial tree: the caller discards it.
public struct LayerUnpacker: Sendable {
    public var limits: UnpackLimits
    public init(limits: UnpackLimits = .default) { self.limits = limits }

    /// `destination` must be an existing, empty directory.
    public func unpack(archiveAt path: String, into destination: String) throws(ArchiveError) -> UnpackReport {
        try withUTF8Locale { () throws(ArchiveError) -> UnpackReport in try unpackInLocale(path, destination) }
    }

    private func unpackInLocale(_ path: String, _ destination: String) throws(ArchiveError) -> UnpackReport {
        let stream = try DecompressedStream.open(path: path, maxBytes: limits.maxUncompressedBytes)
        let reader = try TarReader(stream: stream)
        let layer = try LayerDirectory(path: destination)
        var writer = LayerWriter(layer: layer, reader: reader, limits: limits)
        var entries = 0
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(reader.handle, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw reader.failure() }
            entries += 1
            if entries > limits.maxEntries {
                let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? "#\(entries)"
                throw .limitExceeded(entry: name, limit: "more than \(limits.maxEntries) entries")
            }
            try writer.write(entry, warning: status == ARCHIVE_WARN ? libarchiveError(reader.handle) : nil)
        }
        try writer.finish()
        let tarEnd = reader.consumed
        try stream.drain()
        guard stream.endOfNonZero <= tarEnd else {
            throw .corrupt(path: path, reason: "trailing garbage after the end of the tar archive (byte \(tarEnd))")
        }
        return UnpackReport(diffID: stream.digest(), entries: entries, warnings: writer.warnings)
    }
}

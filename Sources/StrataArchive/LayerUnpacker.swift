import StrataModel

/// Caps applied while reading untrusted archives.
public struct UnpackLimits: Sendable {
    public var maxUncompressedBytes: Int64 = 64 << 30
    public var maxEntries: Int = 4_000_000
    public var maxNameBytes: Int = 4096
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

/// Unpacks a layer tarball (uncompressed, gzip, xz, zstd, bzip2) into a directory
/// that overlayfs can use as a lower dir. Never writes outside `destination`.
public struct LayerUnpacker: Sendable {
    public var limits: UnpackLimits
    public init(limits: UnpackLimits = .default) { self.limits = limits }

    /// `destination` must be an existing, empty directory.
    public func unpack(archiveAt path: String, into destination: String) throws(ArchiveError) -> UnpackReport {
        throw .unreadable(path: path, reason: "not implemented")
    }
}

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

/// How an unpack maps, records and finishes entries. The default (`UnpackOptions()`) is a
/// plain OCI layer unpack: no name is rewritten, nothing is recorded, whiteouts are translated.
public struct UnpackOptions: Sendable, Hashable {
    /// The top-level directories a merged-/usr system keeps under `usr/` (`bin -> usr/bin`):
    /// those of a bookworm amd64 system. `lib32`/`libx32` are left alone: a skeleton link
    /// for them would dangle on most systems, and usrmerge's scripts remove dangling ones.
    public static let mergedUsrDirectories = ["bin", "sbin", "lib", "lib64"]

    /// Writes an entry whose first component is one of `mergedUsrDirectories` under `usr/`
    /// instead (`./bin/bash` → `usr/bin/bash`, the entry `./bin/` → the directory `usr/bin`);
    /// hardlink targets are mapped the same way, symlink targets are left as written. A
    /// non-directory entry naming such a directory itself (`./lib64` as a symlink) is dropped
    /// with a warning: the merged-/usr skeleton below provides it.
    public var mergedUsr: Bool
    /// Returns every entry name as the archive wrote it (before any rewrite), in archive
    /// order, in `UnpackReport.entryNames`.
    public var recordsEntryNames: Bool
    /// When set, every directory the unpack had to make as a parent without the archive
    /// declaring it (and the root, when the archive has no entry for it) gets mode 0755,
    /// owner 0:0 and this mtime (seconds since the epoch), so that the tree does not depend
    /// on the umask or the clock. Nil leaves them as `mkdir` made them.
    public var implicitDirectoryMtime: Int64?
    /// Whether `.wh.` names become overlay whiteouts (OCI layers). When false they are dropped
    /// with a warning: a `.deb` must not hide files of the layers below it.
    public var translatesWhiteouts: Bool

    public init(mergedUsr: Bool = false, recordsEntryNames: Bool = false, implicitDirectoryMtime: Int64? = nil,
                translatesWhiteouts: Bool = true) {
        self.mergedUsr = mergedUsr
        self.recordsEntryNames = recordsEntryNames
        self.implicitDirectoryMtime = implicitDirectoryMtime
        self.translatesWhiteouts = translatesWhiteouts
    }
}

/// What an unpack did.
public struct UnpackReport: Sendable, Equatable {
    /// sha256 of the uncompressed tar stream (the OCI diff id).
    public var diffID: Digest
    public var entries: Int
    /// One line per dropped device node or ignored item, naming the entry.
    public var warnings: [String]
    /// Every entry's name as the archive wrote it (raw bytes, before any rewrite), in
    /// archive order; empty unless `UnpackOptions.recordsEntryNames` was set.
    public var entryNames: [[UInt8]]
    public init(diffID: Digest, entries: Int, warnings: [String], entryNames: [[UInt8]] = []) {
        self.diffID = diffID; self.entries = entries; self.warnings = warnings; self.entryNames = entryNames
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
/// `UnpackOptions` may map names (merged /usr), record them, and fix implicit directories;
/// every rule above holds for the mapped names. On error the destination may hold a partial tree: the caller discards it.
public struct LayerUnpacker: Sendable {
    public var limits: UnpackLimits
    public var options: UnpackOptions
    public init(limits: UnpackLimits = .default, options: UnpackOptions = UnpackOptions()) {
        self.limits = limits
        self.options = options
    }

    /// `destination` must be an existing, empty directory.
    public func unpack(archiveAt path: String, into destination: String) throws(ArchiveError) -> UnpackReport {
        try withUTF8Locale { () throws(ArchiveError) -> UnpackReport in try unpackInLocale(path, destination) }
    }

    private func unpackInLocale(_ path: String, _ destination: String) throws(ArchiveError) -> UnpackReport {
        let stream = try DecompressedStream.open(path: path, maxBytes: limits.maxUncompressedBytes)
        let reader = try TarReader(stream: stream)
        let layer = try LayerDirectory(path: destination)
        var writer = LayerWriter(layer: layer, reader: reader, limits: limits, options: options)
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
        return UnpackReport(diffID: stream.digest(), entries: entries, warnings: writer.warnings,
                            entryNames: writer.entryNames)
    }
}

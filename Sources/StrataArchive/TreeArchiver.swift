import CArchive
import Glibc
import StrataOS
import StrataModel

/// How a tree becomes a layer: a host input copied into an environment (`.copy`,
/// anonymous and timeless), or a session's overlay upper dir becoming an OCI layer
/// (`.sessionChange`: owners and mtimes kept, overlay whiteouts and opaque
/// directories written as OCI `.wh.` entries, device nodes kept).
public struct TreeArchiveOptions: Sendable, Equatable {
    /// Keep numeric owners (else uid/gid 0).
    public var keepOwners: Bool
    /// Keep mtimes, clamped to `clampMtime` when set (else every mtime is 0).
    public var keepMtimes: Bool
    public var clampMtime: Int64?
    /// Read the tree as an overlayfs upper dir: a 0/0 character device is a whiteout,
    /// an `overlay.opaque` directory hides what is below it.
    public var overlayChanges: Bool
    /// Keep device nodes (a session's own, or a root filesystem's); a copied host tree's are skipped.
    public var keepDevices: Bool

    public static let copy = TreeArchiveOptions(keepOwners: false, keepMtimes: false, clampMtime: nil, overlayChanges: false)

    /// A whole root filesystem as it is (`strata export`, as `docker export`): owners,
    /// mtimes and device nodes kept.
    public static let rootfs = TreeArchiveOptions(keepOwners: true, keepMtimes: true, clampMtime: nil, overlayChanges: false,
                                                  keepDevices: true)

    /// `epoch` (SOURCE_DATE_EPOCH) clamps mtimes, as reproducible-build tools do.
    public static func sessionChange(epoch: Int64?) -> TreeArchiveOptions {
        TreeArchiveOptions(keepOwners: true, keepMtimes: true, clampMtime: epoch, overlayChanges: true)
    }

    public init(keepOwners: Bool, keepMtimes: Bool, clampMtime: Int64?, overlayChanges: Bool, keepDevices: Bool? = nil) {
        self.keepOwners = keepOwners; self.keepMtimes = keepMtimes; self.clampMtime = clampMtime
        self.overlayChanges = overlayChanges; self.keepDevices = keepDevices ?? overlayChanges
    }
}

/// Writes a deterministic, uncompressed PAX tar of a host file or directory,
/// placed under an absolute target path inside the layer.
///
/// Deterministic: entries sorted by path bytes, uid/gid 0, mtimes 0, no atime/ctime,
/// no user or group names, modes and symlink targets and xattrs (except the overlay's
/// `trusted.*`/`user.overlay.*`) kept, hardlinks within the tree kept as hardlinks,
/// sockets and device nodes skipped. Every parent directory of the target gets an entry
/// (mode 0755). The same tree always gives the same bytes, so its sha256 is the tree's digest.
/// `TreeArchiveOptions` changes owners, mtimes and the overlay's own entries for commits.
public enum TreeArchiver {
    /// Writes the tar to `output` and returns its sha256 (which is also its diff id).
    public static func archive(source: String, target: String, to output: String,
                               options: TreeArchiveOptions = .copy) throws(ArchiveError) -> Digest {
        try withUTF8Locale { () throws(ArchiveError) -> Digest in try archiveInLocale(source, target, output, options) }
    }

    /// The sha256 of the tar `archive` would write (the tree's diff id as a layer), without
    /// keeping the bytes.
    public static func digest(source: String, target: String, options: TreeArchiveOptions) throws(ArchiveError) -> Digest {
        try withUTF8Locale { () throws(ArchiveError) -> Digest in try archiveInLocale(source, target, nil, options) }
    }

    private static func archiveInLocale(_ source: String, _ target: String, _ output: String?,
                                        _ options: TreeArchiveOptions) throws(ArchiveError) -> Digest {
        let items = try collectItems(source: source, target: target, options: options)
        let sink = try output.map { path throws(ArchiveError) in try HashingFileSink(path: path) } ?? .digestOnly(source)
        let writer = try TarWriter(sink: sink)
        var firstLink: [FileIdentity: [UInt8]] = [:]
        for item in items {
            try write(item, to: writer, options: options, hardlinks: &firstLink)
        }
        return try writer.close()
    }

    /// Every entry the tar of `source` at `target` will hold, sorted by name.
    private static func collectItems(source: String, target: String,
                                     options: TreeArchiveOptions = .copy) throws(ArchiveError) -> [TreeItem] {
        guard target.hasPrefix("/") else {
            throw .unsafeEntry(entry: target, reason: "the target must be an absolute path")
        }
        guard let targetPath = EntryPath(cleaning: target) else {
            throw .unsafeEntry(entry: target, reason: "the target climbs above the layer root with '..'")
        }
        var sourceStat = stat()
        guard lstat(source, &sourceStat) == 0 else { throw .unreadable(path: source, reason: SystemError.text(errno)) }
        let isDirectory = (sourceStat.st_mode & S_IFMT) == S_IFDIR
        if targetPath.isRoot && !isDirectory {
            throw .unsafeEntry(entry: target, reason: "only a directory can be placed at the layer root")
        }

        var items: [TreeItem] = []
        var prefix: [UInt8] = []
        for component in targetPath.components.dropLast() {
            prefix += component.nameBytes + [0x2F]
            items.append(TreeItem(name: prefix, host: nil, info: nil))
        }
        let sourceHost = Array(source.utf8CString)
        let rootName = targetPath.isRoot ? [] : targetPath.components.map { $0.nameBytes }.joined(separator: [0x2F]).map { $0 }
        if !targetPath.isRoot {
            items.append(TreeItem(name: rootName + (isDirectory ? [0x2F] : []), host: sourceHost, info: sourceStat))
        }
        if isDirectory {
            try collect(directory: sourceHost, name: rootName, overlay: options.overlayChanges, devices: options.keepDevices, into: &items)
        }
        items.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return items
    }


    /// A digest of what `lstat` says about every entry of the tree (names, types, modes,
    /// owners, sizes, mtimes, ctimes, inodes, symlink targets): equal fingerprints mean
    /// the tree was not touched, without reading any file. `newestChange` is the latest
    /// ctime in seconds, so callers can refuse to trust a tree changed a moment ago
    /// (timestamps are coarser than the writes they describe).
    public static func fingerprint(source: String, target: String) throws(ArchiveError) -> (digest: Digest, newestChange: Int) {
        let items = try collectItems(source: source, target: target)
        var hasher = SHA256Stream()
        var newest = 0
        for item in items {
            var record = item.name + [0]
            if let info = item.info, let host = item.host {
                newest = max(newest, Int(info.st_ctim.tv_sec))
                let fields: [Int] = [
                    Int(info.st_mode), Int(info.st_uid), Int(info.st_gid), Int(info.st_size), Int(info.st_ino),
                    Int(info.st_dev), Int(info.st_nlink), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec),
                    Int(info.st_ctim.tv_sec), Int(info.st_ctim.tv_nsec),
                ]
                record += Array(fields.map(String.init).joined(separator: " ").utf8)
                if (info.st_mode & S_IFMT) == S_IFLNK {
                    var link = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let length = readlink(host, &link, Int(PATH_MAX))
                    if length > 0 { record += [0] + link[0..<length].map { UInt8(bitPattern: $0) } }
                }
            }
            record.append(0x0a)
            hasher.update(record)
        }
        return (hasher.finalize(), newest)
    }

    private static func collect(directory: [CChar], name: [UInt8], overlay: Bool, devices: Bool,
                                into items: inout [TreeItem]) throws(ArchiveError) {
        let hostText = String(decoding: directory.nameBytes, as: UTF8.self)
        let children: [[UInt8]]
        do { children = try Directory.entries(rawPath: directory, display: hostText).map { $0.rawName.dropLast().map { UInt8(bitPattern: $0) } } } catch {
            throw .unreadable(path: hostText, reason: error.reason)
        }
        for child in children {
            let host = Array(directory.dropLast()) + [0x2F] + child.map { CChar(bitPattern: $0) } + [0]
            var info = stat()
            guard lstat(host, &info) == 0 else {
                throw .unreadable(path: String(decoding: host.nameBytes, as: UTF8.self), reason: SystemError.text(errno))
            }
            let childName = (name.isEmpty ? [] : name + [0x2F]) + child
            let hostText = { String(decoding: host.nameBytes, as: UTF8.self) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                items.append(TreeItem(name: childName + [0x2F], host: host, info: info))
                if overlay {
                    guard let xattrs = Xattr.list(path: host) else { throw .unreadable(path: hostText(), reason: SystemError.text(errno)) }
                    if let unsupported = xattrs.first(where: { Self.isOverlayRedirect($0.name) }) {
                        throw .unsafeEntry(entry: hostText(), reason: "overlayfs recorded \(unsupported.name) here (a renamed directory or a metadata-only copy), which an OCI layer cannot express")
                    }
                    if xattrs.contains(where: { Self.isOverlayOpaque($0.name) && $0.value == [UInt8(ascii: "y")] }) {
                        items.append(TreeItem(name: childName + [0x2F] + Self.opaqueMarker, host: nil, info: nil, kind: .whiteout))
                    }
                }
                try collect(directory: host, name: childName, overlay: overlay, devices: devices, into: &items)
            case S_IFREG, S_IFLNK, S_IFIFO:
                items.append(TreeItem(name: childName, host: host, info: info))
            case S_IFCHR where overlay && info.st_rdev == 0:
                // overlayfs marks a deleted lower file with a 0/0 character device.
                let whiteout = (name.isEmpty ? [] : name + [0x2F]) + Self.whiteoutPrefix + child
                items.append(TreeItem(name: whiteout, host: nil, info: nil, kind: .whiteout))
            case S_IFCHR, S_IFBLK:
                // A session's own device nodes are part of its change (as in `docker commit`), and
                // a root filesystem's of it; a copied host tree's are not.
                if devices { items.append(TreeItem(name: childName, host: host, info: info)) }
            default:
                continue  // sockets have no place in a layer
            }
        }
    }

    static let whiteoutPrefix = Array(".wh.".utf8)
    static let opaqueMarker = Array(".wh..wh..opq".utf8)

    static func isOverlayOpaque(_ name: String) -> Bool { name == "trusted.overlay.opaque" || name == "user.overlay.opaque" }

    static func isOverlayRedirect(_ name: String) -> Bool {
        ["trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.metacopy"].contains(name)
    }

    private static func write(_ item: TreeItem, to writer: TarWriter, options: TreeArchiveOptions,
                              hardlinks: inout [FileIdentity: [UInt8]]) throws(ArchiveError) {
        guard let entry = archive_entry_new() else { throw .io(path: writer.sink.path, reason: "libarchive: out of memory") }
        defer { archive_entry_free(entry) }
        let nameC = item.name.map { CChar(bitPattern: $0) } + [0]
        archive_entry_copy_pathname(entry, nameC)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_mtime(entry, 0, 0)
        if item.kind == .whiteout {
            // An empty file with no permissions, as Docker and containerd write them.
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
            archive_entry_set_perm(entry, 0)
            archive_entry_set_size(entry, 0)
            try writeHeader(entry, writer: writer, name: item.name)
            return
        }
        guard let host = item.host, let info = item.info else {
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFDIR))
            archive_entry_set_perm(entry, 0o755)
            try writeHeader(entry, writer: writer, name: item.name)
            return
        }
        if options.keepOwners {
            archive_entry_set_uid(entry, Int64(info.st_uid))
            archive_entry_set_gid(entry, Int64(info.st_gid))
        }
        if options.keepMtimes {
            var seconds = Int64(info.st_mtim.tv_sec), nanoseconds = Int(info.st_mtim.tv_nsec)
            if let clamp = options.clampMtime, seconds >= clamp { seconds = clamp; nanoseconds = 0 }
            archive_entry_set_mtime(entry, time_t(seconds), nanoseconds)
        }
        let hostText = String(decoding: host.nameBytes, as: UTF8.self)
        let type = info.st_mode & S_IFMT
        archive_entry_set_filetype(entry, UInt32(type))
        archive_entry_set_perm(entry, info.st_mode & 0o7777)
        if type != S_IFLNK {
            guard let xattrs = Xattr.list(path: host) else { throw .unreadable(path: hostText, reason: SystemError.text(errno)) }
            // The overlay's own xattrs describe the mount, not the file (opaque became a marker above).
            let skipped = { (name: String) -> Bool in
                options.overlayChanges ? name.hasPrefix("trusted.overlay.") || name.hasPrefix("user.overlay.")
                                       : name.hasPrefix("trusted.") || name.hasPrefix("user.overlay.")
            }
            for xattr in xattrs where !skipped(xattr.name) {
                xattr.value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, xattr.name, $0.baseAddress, $0.count) }
            }
        }
        switch type {
        case S_IFLNK:
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(host, &target, Int(PATH_MAX))
            guard length >= 0 else { throw .unreadable(path: hostText, reason: SystemError.text(errno)) }
            target[length] = 0
            archive_entry_copy_symlink(entry, target)
            try writeHeader(entry, writer: writer, name: item.name)
        case S_IFREG:
            let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if info.st_nlink > 1, let first = hardlinks[identity] {
                archive_entry_copy_hardlink(entry, first.map { CChar(bitPattern: $0) } + [0])
                archive_entry_set_size(entry, 0)
                try writeHeader(entry, writer: writer, name: item.name)
                return
            }
            if info.st_nlink > 1 { hardlinks[identity] = item.name }
            archive_entry_set_size(entry, Int64(info.st_size))
            try writeHeader(entry, writer: writer, name: item.name)
            try copyContents(of: host, size: Int64(info.st_size), to: writer, hostText: hostText)
        case S_IFCHR, S_IFBLK:
            archive_entry_set_rdev(entry, info.st_rdev)
            try writeHeader(entry, writer: writer, name: item.name)
        default:
            try writeHeader(entry, writer: writer, name: item.name)
        }
        guard archive_write_finish_entry(writer.handle) == ARCHIVE_OK else { throw writer.failure() }
    }

    private static func writeHeader(_ entry: OpaquePointer, writer: TarWriter, name: [UInt8]) throws(ArchiveError) {
        guard archive_write_header(writer.handle, entry) == ARCHIVE_OK else { throw writer.failure() }
    }

    private static func copyContents(of host: [CChar], size: Int64, to writer: TarWriter, hostText: String) throws(ArchiveError) {
        let fd = open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: hostText, reason: SystemError.text(errno)) }
        let file = FileDescriptor(owning: fd)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var remaining = size
        // A file that shrank while being read is padded with zeros by libarchive; one that
        // grew is cut at the size in its header.
        while remaining > 0 {
            let count = buffer.withUnsafeMutableBytes { read(file.raw, $0.baseAddress, Int(min(Int64($0.count), remaining))) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path: hostText, reason: SystemError.text(errno)) }
            if count == 0 { break }
            let written = buffer.withUnsafeBytes { archive_write_data(writer.handle, $0.baseAddress, count) }
            guard written == count else { throw writer.failure() }
            remaining -= Int64(count)
        }
    }
}

private struct TreeItem {
    enum Kind { case entry, whiteout }
    /// The entry name: no leading `/`, directories end in `/`.
    var name: [UInt8]
    /// NUL-terminated host path; nil for a synthesized parent directory or a whiteout.
    var host: [CChar]?
    var info: stat?
    /// A whiteout (`.wh.NAME` or the opaque marker) is written as an empty file.
    var kind: Kind = .entry
}

private struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64
}

import CArchive
import Glibc
import StrataOS

/// Ownership, mode, time and xattrs of one entry, validated and filtered.
struct EntryMetadata {
    var uid: uid_t
    var gid: gid_t
    var mode: mode_t
    var mtime: timespec
    var xattrs: [(name: [CChar], value: [UInt8])]
}

/// Writes the entries of one layer into a `LayerDirectory`, applying the security rules
/// of DESIGN.md. Directory modes and mtimes are applied by `finish()`, after their
/// contents are written.
struct LayerWriter {
    /// How this store marks an opaque directory: overlay's own name for it in the namespace
    /// strata runs in (`user.overlay.opaque` rootless).
    static let opaqueXattr = UserNamespace.current.overlayXattrPrefix + "opaque"
    let layer: LayerDirectory
    let reader: TarReader
    let limits: UnpackLimits
    let options: UnpackOptions
    var warnings: [String] = []
    /// Entry names as the archive wrote them, when `options.recordsEntryNames`.
    var entryNames: [[UInt8]] = []
    private var directories: [EntryPath: EntryMetadata] = [:]
    /// Every parent directory an entry needed (only with `options.implicitDirectoryMtime`).
    private var parents: Set<EntryPath> = []

    init(layer: LayerDirectory, reader: TarReader, limits: UnpackLimits, options: UnpackOptions = UnpackOptions()) {
        self.layer = layer; self.reader = reader; self.limits = limits; self.options = options
    }

    mutating func write(_ entry: OpaquePointer, warning: String?) throws(ArchiveError) {
        guard let rawName = archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry) else {
            throw .corrupt(path: reader.stream.path, reason: "an entry without a readable name")
        }
        let name = String(cString: rawName)
        reader.stream.currentEntry = name
        if let warning { warnings.append("\(name): \(warning)") }
        guard strlen(rawName) <= limits.maxNameBytes else {
            throw .limitExceeded(entry: name, limit: "name longer than \(limits.maxNameBytes) bytes")
        }
        if options.recordsEntryNames {
            entryNames.append(Array(UnsafeRawBufferPointer(start: rawName, count: strlen(rawName))))
        }
        guard var path = EntryPath(cleaning: rawName) else {
            throw .unsafeEntry(entry: name, reason: "the name climbs above the layer root with '..'")
        }
        let metadata = try readMetadata(entry, name: name)
        let hardlinkTarget = archive_entry_hardlink(entry)
        let type = archive_entry_filetype(entry) & S_IFMT
        if options.mergedUsr {
            if path.isMergedUsrDirectory && (hardlinkTarget != nil || type != S_IFDIR) {
                warnings.append("\(name): ignored, merged /usr makes /\(path.display) a link to usr/\(path.display)")
                return
            }
            path = path.mergingUsr()
        }
        if options.implicitDirectoryMtime != nil { notePossiblyImplicitParents(of: path) }

        if let target = hardlinkTarget {
            try writeHardlink(path, target: target, name: name)
            return
        }
        if path.isRoot {
            // The layer root is the destination itself: a directory entry for it sets its
            // metadata; nothing may replace it.
            if type == S_IFDIR {
                try apply(owner: metadata, xattrs: metadata.xattrs, to: layer.root.raw, path: "/")
                directories[path] = metadata
            } else {
                warnings.append("\(name): ignored, it would replace the layer root")
            }
            return
        }
        if path.leaf.hasNamePrefix(".wh.") {
            guard options.translatesWhiteouts else {
                warnings.append("\(name): ignored a whiteout name (whiteouts are not translated in this layer)")
                return
            }
            try writeWhiteout(path, name: name)
            return
        }
        switch type {
        case S_IFDIR: try writeDirectory(path, metadata: metadata, name: name)
        case S_IFREG: try writeFile(path, entry: entry, metadata: metadata, name: name)
        case S_IFLNK: try writeSymlink(path, entry: entry, metadata: metadata, name: name)
        case S_IFIFO: try writeFIFO(path, metadata: metadata, name: name)
        case S_IFCHR where archive_entry_rdevmajor(entry) == 0 && archive_entry_rdevminor(entry) == 0:
            warnings.append("\(name): dropped a 0/0 character device (the overlay's whiteout encoding) arriving as content")
        case S_IFCHR, S_IFBLK:
            warnings.append("\(name): dropped a \(type == S_IFCHR ? "character" : "block") device node")
        case S_IFSOCK:
            warnings.append("\(name): ignored a socket")
        default:
            throw .corrupt(path: reader.stream.path, reason: "\(name): unknown entry type \(String(type, radix: 8))")
        }
    }

    /// Applies the mode and mtime of every directory the layer declared, last entry winning.
    func finish() throws(ArchiveError) {
        for (path, metadata) in directories {
            // A directory later replaced by something else keeps no record of its own.
            guard let fd = recordedDirectory(path) else { continue }
            let display = path.isRoot ? "/" : path.display
            guard fchmod(fd.raw, metadata.mode) == 0 else { throw .io(path: display, reason: SystemError.text(errno)) }
            try setTimes(metadata, fd: fd.raw, path: display)
        }
        if let mtime = options.implicitDirectoryMtime { try normalizeImplicitDirectories(mtime: mtime) }
    }

    /// The directory at `path` in the layer, or nil when something else has replaced it.
    private func recordedDirectory(_ path: EntryPath) -> FileDescriptor? {
        if path.isRoot { return layer.root }
        return try? layer.openDirectory(path, create: false, entry: path.display)
    }

    /// Records `path`'s ancestors (not the root) until one already recorded.
    private mutating func notePossiblyImplicitParents(of path: EntryPath) {
        var parent = path.parent
        while !parent.isRoot, parents.insert(parent).inserted { parent = parent.parent }
    }

    /// Gives every directory made only as a parent (and an undeclared root) mode 0755,
    /// owner 0:0 and `mtime`; applied after all entries, so later entries cannot change them.
    private func normalizeImplicitDirectories(mtime: Int64) throws(ArchiveError) {
        let metadata = EntryMetadata(uid: 0, gid: 0, mode: 0o755, mtime: timespec(tv_sec: Int(mtime), tv_nsec: 0), xattrs: [])
        var implicit = parents.filter { directories[$0] == nil }
        if directories[EntryPath(components: [])] == nil { implicit.insert(EntryPath(components: [])) }
        for path in implicit {
            // A parent later replaced by a non-directory (or a symlink) is left alone.
            guard let fd = recordedDirectory(path) else { continue }
            let display = path.isRoot ? "/" : path.display
            try apply(owner: metadata, xattrs: [], to: fd.raw, path: display)
            guard fchmod(fd.raw, metadata.mode) == 0 else { throw .io(path: display, reason: SystemError.text(errno)) }
            try setTimes(metadata, fd: fd.raw, path: display)
        }
    }

    // MARK: - entry kinds

    private mutating func writeDirectory(_ path: EntryPath, metadata: EntryMetadata, name: String) throws(ArchiveError) {
        let parent = try layer.openDirectory(path.parent, create: true, entry: name)
        let leaf = path.leaf
        if let type = layer.fileType(in: parent.raw, leaf), type != S_IFDIR {
            try replace(leaf, at: path, in: parent)
        }
        if layer.fileType(in: parent.raw, leaf) == nil {
            // Private until finish() applies the declared mode.
            guard mkdirat(parent.raw, leaf, 0o700) == 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        }
        let fd = openat(parent.raw, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        let directory = FileDescriptor(owning: fd)
        try apply(owner: metadata, xattrs: metadata.xattrs, to: directory.raw, path: path.display)
        directories[path] = metadata
    }

    private mutating func writeFile(_ path: EntryPath, entry: OpaquePointer, metadata: EntryMetadata, name: String) throws(ArchiveError) {
        let parent = try layer.openDirectory(path.parent, create: true, entry: name)
        try replace(path.leaf, at: path, in: parent)
        let fd = openat(parent.raw, path.leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        let file = FileDescriptor(owning: fd)
        var written: Int64 = 0
        while true {
            var buffer: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let status = archive_read_data_block(reader.handle, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw reader.failure() }
            guard let buffer else { continue }
            var done = 0
            while done < size {
                let count = pwrite(file.raw, buffer + done, size - done, off_t(offset) + off_t(done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
                done += count
            }
            written = max(written, offset + Int64(size))
        }
        // Sparse entries end in a hole that no data block covers.
        if archive_entry_size_is_set(entry) != 0, archive_entry_size(entry) > written {
            guard ftruncate(file.raw, off_t(archive_entry_size(entry))) == 0 else {
                throw .io(path: path.display, reason: SystemError.text(errno))
            }
        }
        try apply(owner: metadata, xattrs: metadata.xattrs, to: file.raw, path: path.display)
        guard fchmod(file.raw, metadata.mode) == 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        try setTimes(metadata, fd: file.raw, path: path.display)
    }

    private mutating func writeSymlink(_ path: EntryPath, entry: OpaquePointer, metadata: EntryMetadata, name: String) throws(ArchiveError) {
        guard let target = archive_entry_symlink(entry) else {
            throw .corrupt(path: reader.stream.path, reason: "\(name): symbolic link without a target")
        }
        guard strlen(target) <= limits.maxNameBytes else {
            throw .limitExceeded(entry: name, limit: "link target longer than \(limits.maxNameBytes) bytes")
        }
        let parent = try layer.openDirectory(path.parent, create: true, entry: name)
        try replace(path.leaf, at: path, in: parent)
        guard symlinkat(target, parent.raw, path.leaf) == 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        guard fchownat(parent.raw, path.leaf, metadata.uid, metadata.gid, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw .io(path: path.display, reason: Self.ownerFailure(errno, metadata))
        }
        var times = [metadata.mtime, metadata.mtime]
        guard utimensat(parent.raw, path.leaf, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw .io(path: path.display, reason: SystemError.text(errno))
        }
        if !metadata.xattrs.isEmpty {
            warnings.append("\(name): xattrs on a symbolic link were not applied")
        }
    }

    private mutating func writeFIFO(_ path: EntryPath, metadata: EntryMetadata, name: String) throws(ArchiveError) {
        let parent = try layer.openDirectory(path.parent, create: true, entry: name)
        try replace(path.leaf, at: path, in: parent)
        guard mknodat(parent.raw, path.leaf, S_IFIFO | 0o600, 0) == 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        // A non-blocking read open of a FIFO returns at once and gives an fd for the metadata.
        let fd = openat(parent.raw, path.leaf, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        let fifo = FileDescriptor(owning: fd)
        try apply(owner: metadata, xattrs: metadata.xattrs, to: fifo.raw, path: path.display)
        guard fchmod(fifo.raw, metadata.mode) == 0 else { throw .io(path: path.display, reason: SystemError.text(errno)) }
        try setTimes(metadata, fd: fifo.raw, path: path.display)
    }

    private mutating func writeHardlink(_ path: EntryPath, target: UnsafePointer<CChar>, name: String) throws(ArchiveError) {
        let targetName = String(cString: target)
        guard strlen(target) <= limits.maxNameBytes else {
            throw .limitExceeded(entry: name, limit: "link target longer than \(limits.maxNameBytes) bytes")
        }
        guard var targetPath = EntryPath(cleaning: target), !targetPath.isRoot else {
            throw .unsafeEntry(entry: name, reason: "hardlink target '\(targetName)' is outside the layer")
        }
        if options.mergedUsr { targetPath = targetPath.mergingUsr() }
        guard !path.isRoot else { throw .unsafeEntry(entry: name, reason: "a hardlink would replace the layer root") }
        if targetPath == path { return }
        if targetPath.components.starts(with: path.components) {
            throw .unsafeEntry(entry: name, reason: "hardlink target '\(targetName)' is inside the link itself")
        }
        let targetDirectory: FileDescriptor
        do {
            targetDirectory = try layer.openDirectory(targetPath.parent, create: false, entry: name)
        } catch .unsafeEntry(_, let reason) {
            throw .unsafeEntry(entry: name, reason: "hardlink target '\(targetName)': \(reason)")
        } catch {
            throw .unsafeEntry(entry: name, reason: "hardlink target '\(targetName)' is not a file in this layer")
        }
        guard layer.fileType(in: targetDirectory.raw, targetPath.leaf) == S_IFREG else {
            throw .unsafeEntry(entry: name, reason: "hardlink target '\(targetName)' is not a regular file in this layer")
        }
        let parent = try layer.openDirectory(path.parent, create: true, entry: name)
        try replace(path.leaf, at: path, in: parent)
        guard linkat(targetDirectory.raw, targetPath.leaf, parent.raw, path.leaf, 0) == 0 else {
            throw .io(path: path.display, reason: SystemError.text(errno))
        }
    }

    private mutating func writeWhiteout(_ path: EntryPath, name: String) throws(ArchiveError) {
        let leaf = path.leaf.nameBytes
        if leaf == Array(".wh..wh..opq".utf8) {
            let directory = try layer.openDirectory(path.parent, create: true, entry: name)
            let status = [UInt8(ascii: "y")].withUnsafeBytes { Xattr.set(fd: directory.raw, name: Self.opaqueXattr, value: $0) }
            guard status == 0 else {
                throw .io(path: path.parent.isRoot ? "/" : path.parent.display, reason: SystemError.text(errno))
            }
            return
        }
        if path.leaf.hasNamePrefix(".wh..wh.") {
            warnings.append("\(name): ignored an overlay-internal whiteout name")
            return
        }
        let hidden = Array(path.leaf.dropFirst(4))
        guard hidden != [0], hidden != [0x2E, 0], hidden != [0x2E, 0x2E, 0] else {
            throw .unsafeEntry(entry: name, reason: "a whiteout that names no file")
        }
        let directory = try layer.openDirectory(path.parent, create: true, entry: name)
        // umoci's rule: a whiteout hides lower layers only, never what this layer wrote.
        if layer.fileType(in: directory.raw, hidden) != nil { return }
        guard mknodat(directory.raw, hidden, S_IFCHR, 0) == 0 else {
            throw .io(path: EntryPath(components: path.parent.components + [hidden]).display, reason: SystemError.text(errno))
        }
    }

    // MARK: - helpers

    /// Removes whatever `leaf` is (last entry wins), forgetting directory records under it.
    private mutating func replace(_ leaf: [CChar], at path: EntryPath, in parent: FileDescriptor) throws(ArchiveError) {
        guard let type = layer.fileType(in: parent.raw, leaf) else { return }
        if type == S_IFDIR {
            directories = directories.filter { !$0.key.components.starts(with: path.components) }
        }
        try layer.remove(leaf, in: parent.raw, path: path.display)
    }

    private mutating func readMetadata(_ entry: OpaquePointer, name: String) throws(ArchiveError) -> EntryMetadata {
        let uid = archive_entry_uid(entry), gid = archive_entry_gid(entry)
        // -1 would mean "leave unchanged" to chown.
        guard (0..<Int64(UInt32.max)).contains(uid), (0..<Int64(UInt32.max)).contains(gid) else {
            throw .corrupt(path: reader.stream.path, reason: "\(name): uid/gid \(uid)/\(gid) out of range")
        }
        var mtime = timespec(tv_sec: 0, tv_nsec: 0)
        if archive_entry_mtime_is_set(entry) != 0 {
            mtime = timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: Int(archive_entry_mtime_nsec(entry)))
        }
        var xattrs: [(name: [CChar], value: [UInt8])] = []
        var total = 0
        archive_entry_xattr_reset(entry)
        var xattrName: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &xattrName, &value, &size) == ARCHIVE_OK {
            guard let xattrName else { continue }
            total += strlen(xattrName) + size
            guard total <= limits.maxXattrBytes else {
                throw .limitExceeded(entry: name, limit: "xattrs larger than \(limits.maxXattrBytes) bytes")
            }
            let nameText = String(cString: xattrName)
            if nameText.hasPrefix("trusted.") || nameText.hasPrefix("user.overlay.") {
                warnings.append("\(name): dropped xattr \(nameText) (reserved for the overlay)")
                continue
            }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            xattrs.append((Array(UnsafeBufferPointer(start: xattrName, count: strlen(xattrName) + 1)), bytes))
        }
        return EntryMetadata(uid: uid_t(uid), gid: gid_t(gid), mode: mode_t(archive_entry_perm(entry)) & 0o7777,
                             mtime: mtime, xattrs: xattrs)
    }

    /// Why an owner could not be set. EINVAL: the id does not exist in the user namespace
    /// strata runs in, which is a rootless user's without a subordinate range.
    static func ownerFailure(_ code: Int32, _ metadata: EntryMetadata) -> String {
        guard code == EINVAL else { return SystemError.text(code) }
        return "owned by \(metadata.uid):\(metadata.gid), an id that does not exist in this rootless strata's user namespace; give the user a subordinate range in /etc/subuid and /etc/subgid (package uidmap) or build as root"
    }

    /// Ownership first (chown clears setuid bits and file capabilities), then xattrs.
    private func apply(owner metadata: EntryMetadata, xattrs: [(name: [CChar], value: [UInt8])], to fd: Int32, path: String) throws(ArchiveError) {
        guard fchown(fd, metadata.uid, metadata.gid) == 0 else { throw .io(path: path, reason: Self.ownerFailure(errno, metadata)) }
        for xattr in xattrs {
            let status = xattr.value.withUnsafeBytes { Xattr.set(fd: fd, name: xattr.name, value: $0) }
            guard status == 0 else {
                throw .io(path: path, reason: "setting xattr \(String(decoding: xattr.name.nameBytes, as: UTF8.self)): \(SystemError.text(errno))")
            }
        }
    }

    private func setTimes(_ metadata: EntryMetadata, fd: Int32, path: String) throws(ArchiveError) {
        var times = [metadata.mtime, metadata.mtime]
        guard futimens(fd, &times) == 0 else { throw .io(path: path, reason: SystemError.text(errno)) }
    }
}

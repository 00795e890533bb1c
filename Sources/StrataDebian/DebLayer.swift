import Crypto
import Glibc
import StrataOS
import StrataArchive
import StrataModel

/// Why a `.deb` could not become a package layer. Every case names the `.deb` (nil only for
/// the merged-/usr skeleton, which has none) and, where it applies, the entry or the path
/// inside the layer.
public enum DebLayerError: Error, Equatable, Sendable {
    /// The `.deb`'s structure or control tarball was refused (the error names the file,
    /// the member and the control file).
    case package(DebPackageError)
    /// The data tarball was refused or could not be unpacked; the archive error names the entry.
    case unpack(deb: String, ArchiveError)
    /// The control paragraph lacks a field dpkg needs or holds one it cannot use.
    case invalidControl(deb: String, ControlFileError)
    /// The destination is not an existing, empty directory.
    case destinationNotEmpty(deb: String, destination: String)
    /// The data tarball already holds something where the dpkg database goes
    /// (`var/lib/dpkg/info/NAME.list`, or a non-directory on the way there).
    case conflictingEntry(deb: String, path: String, reason: String)
    /// A file of the layer could not be written or read (`path` inside the layer, errno text).
    case layerIO(deb: String?, path: String, reason: String)
}

/// What `DebLayer.unpack` made.
public struct DebLayerReport: Sendable {
    /// The `.deb` as the caller named it.
    public let deb: String
    /// The package's control paragraph, as read from the `.deb`.
    public let control: ControlParagraph
    /// The package's dpkg status paragraph (name, version, architecture, Multi-Arch, fields,
    /// conffiles with the MD5 of the unpacked files).
    public let statusEntry: DpkgStatusEntry
    /// sha256 of the uncompressed data tarball.
    public let diffID: StrataModel.Digest
    /// Entries in the data tarball.
    public let entries: Int
    /// The dpkg database files written, relative to the layer root, in writing order
    /// (`var/lib/dpkg/info/NAME.list`, …).
    public let infoFiles: [String]
    /// Dropped entries, conffiles the layer does not hold, and similar, one line each.
    public let warnings: [String]

    public var package: String { statusEntry.package }
    public var version: String { statusEntry.version }
    public var architecture: String { statusEntry.architecture }
    public var multiArch: String? { statusEntry.multiArch }
    public var conffiles: [DpkgConffile] { statusEntry.conffiles }
}

/// Turns a verified `.deb` into a package layer: a directory that overlayfs uses as a lower
/// dir, holding the package's files as a merged-/usr system has them and the package's part of
/// the dpkg database (`var/lib/dpkg/info/NAME.*`). The status file itself is rendered for the
/// whole snapshot by `DpkgStatus.render`.
///
/// Guarantees: the data tarball is unpacked by `LayerUnpacker` with every rule of DESIGN.md
/// (no escape, no write through a link, numeric owners), with `bin`, `sbin`, `lib*` moved under
/// `usr/` and no whiteout translation; the layer is a pure function of the `.deb`'s bytes:
/// directories the package does not declare and every dpkg database file are owned by 0:0
/// with mode 0755 (directories, maintainer scripts) or 0644, and mtime 0, and directories the
/// database files were added to keep the mtime the package gave them. On error, the data copy
/// is removed; the destination may hold a partial tree that the caller discards.
public enum DebLayer {
    /// The control tarball files dpkg installs executable.
    static let executableInfoFiles: Set<String> = ["preinst", "postinst", "prerm", "postrm", "config"]

    /// Unpacks the `.deb` at `deb` into `destination`, an existing empty directory.
    ///
    /// The compressed data member is first copied to `dataCopy` (a path that must not exist),
    /// or, when nil, to a hidden file next to `destination`; the copy is removed before this
    /// returns or throws.
    public static func unpack(deb: String, into destination: String, dataCopy: String? = nil,
                              limits: UnpackLimits = .default) throws(DebLayerError) -> DebLayerReport {
        guard isEmptyDirectory(destination) else { throw .destinationNotEmpty(deb: deb, destination: destination) }
        let copy = dataCopy ?? temporaryName(beside: destination)
        defer { unlink(copy) }
        let package: DebPackage
        do { package = try DebPackage.read(path: deb, copyingDataTo: copy) } catch { throw .package(error) }
        // Refuse a control paragraph dpkg could not use before unpacking anything.
        do { _ = try DpkgStatusEntry(control: package.control, conffiles: []) } catch { throw .invalidControl(deb: deb, error) }

        let options = UnpackOptions(mergedUsr: true, recordsEntryNames: true, implicitDirectoryMtime: 0,
                                    translatesWhiteouts: false)
        let unpacked: UnpackReport
        do { unpacked = try LayerUnpacker(limits: limits, options: options).unpack(archiveAt: copy, into: destination) } catch {
            throw .unpack(deb: deb, error)
        }
        var warnings = unpacked.warnings
        let listed = dpkgPaths(unpacked.entryNames)

        let tree: LayerTree
        do { tree = try LayerTree(path: destination) } catch { throw .layerIO(deb: deb, path: error.path, reason: error.reason) }
        let conffiles: [DpkgConffile]
        do { conffiles = try hashConffiles(package.conffiles, in: tree, warnings: &warnings) } catch {
            throw .layerIO(deb: deb, path: error.path, reason: error.reason)
        }
        let entry: DpkgStatusEntry
        do { entry = try DpkgStatusEntry(control: package.control, conffiles: conffiles) } catch {
            throw .invalidControl(deb: deb, error)
        }

        // The info files, in a fixed order: list, then the control tarball's files by name.
        var files: [(name: String, bytes: [UInt8], mode: mode_t)] = []
        files.append(("list", listed.flatMap { $0 + [0x0A] }, 0o644))
        if package.controlFiles["md5sums"] == nil {
            // dpkg writes the sums itself for a package that ships none.
            do { files.append(("md5sums", try generatedMD5Sums(listed, in: tree), 0o644)) } catch {
                throw .layerIO(deb: deb, path: error.path, reason: error.reason)
            }
        }
        for name in package.controlFiles.keys.sorted() where name != "control" {
            files.append((name, package.controlFiles[name]!, executableInfoFiles.contains(name) ? 0o755 : 0o644))
        }
        var written: [String] = []
        do throws(LayerTree.Failure) {
            try tree.withInfoDirectory { (info, display) throws(LayerTree.Failure) in
                for file in files {
                    let name = entry.infoName + "." + file.name
                    try tree.writeFile(named: name, in: info, bytes: file.bytes, mode: file.mode, display: display + "/" + name)
                    written.append(display + "/" + name)
                }
            }
        } catch {
            if error.conflict { throw .conflictingEntry(deb: deb, path: error.path, reason: error.reason) }
            throw .layerIO(deb: deb, path: error.path, reason: error.reason)
        }
        return DebLayerReport(deb: deb, control: package.control, statusEntry: entry, diffID: unpacked.diffID,
                              entries: unpacked.entries, infoFiles: written, warnings: warnings)
    }

    /// The status paragraph of the package `deb` whose layer is already unpacked at `layer`:
    /// the control paragraph is read from the `.deb` (no data copy) and the conffiles hashed
    /// in the layer. For a build that finds the package layer in the store.
    public static func statusEntry(deb: String, layer: String) throws(DebLayerError) -> DpkgStatusEntry {
        let package: DebPackage
        do { package = try DebPackage.read(path: deb) } catch { throw .package(error) }
        let tree: LayerTree
        do { tree = try LayerTree(path: layer) } catch { throw .layerIO(deb: deb, path: error.path, reason: error.reason) }
        var warnings: [String] = []
        let conffiles: [DpkgConffile]
        do { conffiles = try hashConffiles(package.conffiles, in: tree, warnings: &warnings) } catch {
            throw .layerIO(deb: deb, path: error.path, reason: error.reason)
        }
        do { return try DpkgStatusEntry(control: package.control, conffiles: conffiles) } catch {
            throw .invalidControl(deb: deb, error)
        }
    }

    // MARK: - dpkg's file list

    /// The tar entry names as dpkg lists them: trailing slashes dropped, leading `/` and `./`
    /// skipped, one `/` put in front (so `./` is `/.`), each name once, in archive order.
    static func dpkgPaths(_ names: [[UInt8]]) -> [[UInt8]] {
        var seen: Set<[UInt8]> = []
        var result: [[UInt8]] = []
        for raw in names {
            var name = raw[...]
            while name.count > 1, name.last == 0x2F { name = name.dropLast() }
            while true {
                if name.first == 0x2F { name = name.dropFirst(); continue }
                if name.count >= 2, name.first == 0x2E, name[name.startIndex + 1] == 0x2F { name = name.dropFirst(2); continue }
                break
            }
            let path = [0x2F] + Array(name)
            if seen.insert(path).inserted { result.append(path) }
        }
        return result
    }

    /// `md5sums` as dpkg writes it for a package without one: every regular file of the list
    /// (hardlinks too), `HASH  path` without the leading slash, in list order.
    static func generatedMD5Sums(_ listed: [[UInt8]], in tree: LayerTree) throws(LayerTree.Failure) -> [UInt8] {
        var out: [UInt8] = []
        for path in listed where path != [0x2F, 0x2E] {
            guard let components = components(path), !components.isEmpty else { continue }
            guard case .hashed(let md5) = try tree.md5(MergedUsr.map(components)) else { continue }
            out.append(contentsOf: md5.utf8)
            out.append(contentsOf: [0x20, 0x20])
            out.append(contentsOf: path.dropFirst())
            out.append(0x0A)
        }
        return out
    }

    // MARK: - conffiles

    /// Each `conffiles` line (`[flag …] /path`) with the MD5 of the file in the layer (through
    /// the merged-/usr mapping), `newconffile` when the layer has no regular file there.
    static func hashConffiles(_ lines: [String], in tree: LayerTree,
                              warnings: inout [String]) throws(LayerTree.Failure) -> [DpkgConffile] {
        var result: [DpkgConffile] = []
        for line in lines {
            var text = Substring(line)
            while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
            var flags: [String] = []
            let path: Substring
            if text.hasPrefix("/") {
                path = text
            } else if let slash = text.indices.first(where: { text[$0] == "/" && text[text.index(before: $0)] == " " }) {
                flags = text[..<slash].split(separator: " ").map(String.init)
                path = text[slash...]
            } else {
                warnings.append("conffiles: ignored '\(line)': no absolute path")
                continue
            }
            let removed = flags.contains("remove-on-upgrade")
            guard let components = components(Array(path.utf8)) else {
                warnings.append("\(path): conffile path climbs with '..'; recorded as \(DpkgConffile.newConffileHash)")
                result.append(DpkgConffile(path: String(path), hash: DpkgConffile.newConffileHash, flags: flags))
                continue
            }
            switch try tree.md5(MergedUsr.map(components)) {
            case .hashed(let md5):
                result.append(DpkgConffile(path: String(path), hash: md5, flags: flags))
            case .absent(let why):
                if !removed { warnings.append("\(path): conffile \(why) in the layer; recorded as \(DpkgConffile.newConffileHash)") }
                result.append(DpkgConffile(path: String(path), hash: DpkgConffile.newConffileHash, flags: flags))
            }
        }
        return result
    }

    /// The components of an absolute or relative path; `.` and empty ones dropped, nil on `..`.
    static func components(_ path: [UInt8]) -> [[UInt8]]? {
        var result: [[UInt8]] = []
        for part in path.split(separator: 0x2F) where part != [0x2E] {
            if part.elementsEqual([0x2E, 0x2E]) { return nil }
            result.append(Array(part))
        }
        return result
    }

    // MARK: - helpers

    static func isEmptyDirectory(_ path: String) -> Bool { Directory.isEmpty(path) }

    /// A hidden name in `destination`'s parent directory that nothing else uses.
    static func temporaryName(beside destination: String) -> String {
        var trimmed = Substring(destination)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        let base = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? String(trimmed)
        let random = UInt64.random(in: 0...UInt64.max)
        return "\(parent)/.\(base).data-\(getpid())-\(String(random, radix: 16))"
    }
}


/// A layer directory reached only through directory descriptors: every component is opened
/// with `O_NOFOLLOW`, so nothing the layer holds can lead outside it. Not thread-safe.
final class LayerTree {
    struct Failure: Error {
        let path: String
        let reason: String
        /// The layer holds something where a database file or directory must go.
        var conflict = false
        init(_ path: String, _ reason: String, conflict: Bool = false) {
            self.path = path; self.reason = reason; self.conflict = conflict
        }
    }

    final class Descriptor {
        let raw: Int32
        init(owning raw: Int32) { self.raw = raw }
        deinit { close(raw) }
    }

    enum Hash {
        case hashed(String)
        /// Missing, or not a regular file (the reason says which).
        case absent(String)
    }

    let root: Descriptor
    let path: String

    init(path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path, SystemError.text(errno)) }
        root = Descriptor(owning: fd)
        self.path = path
    }

    /// Makes directory `name` (which must not exist) in `parent`: mode 0755, owner 0:0.
    func makeDirectory(named name: String, in parent: Int32, display: String) throws(Failure) -> Descriptor {
        guard mkdirat(parent, name, 0o755) == 0 else { throw Failure(display, SystemError.text(errno)) }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(display, SystemError.text(errno)) }
        let directory = Descriptor(owning: fd)
        try normalizeDirectory(fd, display: display)
        return directory
    }

    func normalizeDirectory(_ fd: Int32, display: String) throws(Failure) {
        guard fchown(fd, 0, 0) == 0, fchmod(fd, 0o755) == 0 else { throw Failure(display, SystemError.text(errno)) }
    }

    func setTimes(_ fd: Int32, mtime: Int64, display: String) throws(Failure) {
        try setTimes(fd, timespec(tv_sec: Int(mtime), tv_nsec: 0), display: display)
    }

    func setTimes(_ fd: Int32, _ time: timespec, display: String) throws(Failure) {
        var times = [time, time]
        guard futimens(fd, &times) == 0 else { throw Failure(display, SystemError.text(errno)) }
    }

    /// Runs `body` with `var/lib/dpkg/info` open, making the missing directories (0755, 0:0,
    /// mtime 0), then puts back the mtime of every directory on the way that existed.
    func withInfoDirectory(_ body: (Int32, String) throws(Failure) -> Void) throws(Failure) {
        var chain: [(Descriptor, String, timespec?)] = []
        var info = stat()
        guard fstat(root.raw, &info) == 0 else { throw Failure("/", SystemError.text(errno)) }
        chain.append((root, "/", info.st_mtim))
        var display = ""
        for name in ["var", "lib", "dpkg", "info"] {
            display += display.isEmpty ? name : "/" + name
            let parent = chain.last!.0.raw
            let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                let directory = Descriptor(owning: fd)
                guard fstat(fd, &info) == 0 else { throw Failure(display, SystemError.text(errno)) }
                chain.append((directory, display, info.st_mtim))
            } else if errno == ENOENT {
                chain.append((try makeDirectory(named: name, in: parent, display: display), display, nil))
            } else if errno == ELOOP || errno == ENOTDIR {
                throw Failure(display, "the package put a non-directory where the dpkg database goes", conflict: true)
            } else {
                throw Failure(display, SystemError.text(errno))
            }
        }
        try body(chain.last!.0.raw, display)
        for (directory, display, time) in chain.reversed() {
            try setTimes(directory.raw, time ?? timespec(tv_sec: 0, tv_nsec: 0), display: display)
        }
    }

    /// Writes a new file `name` in `directory`: owner 0:0, `mode`, mtime 0.
    func writeFile(named name: String, in directory: Int32, bytes: [UInt8], mode: mode_t, display: String) throws(Failure) {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw Failure(display, "the package's data already holds this file", conflict: true) }
            throw Failure(display, SystemError.text(errno))
        }
        let file = Descriptor(owning: fd)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(file.raw, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw Failure(display, SystemError.text(errno)) }
            offset += count
        }
        guard fchown(file.raw, 0, 0) == 0, fchmod(file.raw, mode) == 0 else { throw Failure(display, SystemError.text(errno)) }
        try setTimes(file.raw, mtime: 0, display: display)
    }

    /// The MD5 (lowercase hex) of the regular file at `components`, or why there is none.
    /// Directories on the way must be real directories; the file itself is not followed.
    func md5(_ components: [[UInt8]]) throws(Failure) -> Hash {
        guard let leaf = components.last else { return .absent("is the layer root") }
        let display = components.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        var current = root
        for component in components.dropLast() {
            let fd = Self.withName(component) { openat(current.raw, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else {
                if errno == ENOENT { return .absent("is missing") }
                if errno == ELOOP || errno == ENOTDIR { return .absent("lies behind a symbolic link or a non-directory") }
                throw Failure(display, SystemError.text(errno))
            }
            current = Descriptor(owning: fd)
        }
        let fd = Self.withName(leaf) { openat(current.raw, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == ENOENT { return .absent("is missing") }
            if errno == ELOOP { return .absent("is a symbolic link") }
            throw Failure(display, SystemError.text(errno))
        }
        let file = Descriptor(owning: fd)
        var info = stat()
        guard fstat(file.raw, &info) == 0 else { throw Failure(display, SystemError.text(errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .absent("is not a regular file") }
        var hasher = Insecure.MD5()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(file.raw, buffer.baseAddress, buffer.count)
            if count == 0 { break }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw Failure(display, SystemError.text(errno)) }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in hasher.finalize() {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return .hashed(String(decoding: text, as: UTF8.self))
    }

    static func withName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (name + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }
}

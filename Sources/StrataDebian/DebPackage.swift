import CArchive
import Glibc

/// A compression named by a `.deb` member's suffix (`control.tar.xz` → `.xz`).
public enum DebCompression: String, Sendable, Hashable, CaseIterable {
    case none, gzip, xz, zstd, bzip2
}

/// The maintainer scripts and dpkg control files a `.deb`'s control tarball may carry,
/// besides `control`, `md5sums` and `conffiles`.
public enum MaintainerScript: String, Sendable, Hashable, CaseIterable {
    case preinst, postinst, prerm, postrm, config, triggers, shlibs, symbols, templates
}

/// One line of a `.deb`'s `md5sums` file: the MD5 (lowercase hex) of a file in the data
/// tarball, and that file's path relative to the root (no leading `/`).
public struct DebFileChecksum: Sendable, Hashable {
    public let md5: String
    public let path: String
}

/// The data member of a `.deb`, as copied out by `DebPackage.read`.
///
/// Guarantees: `destination` (when set) holds exactly the member's `size` bytes, still
/// compressed as `compression` says; nothing was decompressed or unpacked.
public struct DebDataMember: Sendable, Hashable {
    /// The member's name in the `ar` archive (`data.tar.xz`).
    public let name: String
    public let compression: DebCompression
    /// The member's size in bytes (compressed).
    public let size: Int64
    /// Where the bytes were copied, or nil when the caller asked for no copy.
    public let destination: String?
}

/// Why a `.deb` was refused. Every case names the file (`path`) and, where it applies, the
/// `ar` member (`debian-binary`, `control.tar.xz`, …) or the file inside the control tarball.
public enum DebPackageError: Error, Equatable, Sendable {
    /// The file could not be opened or read (`errno`).
    case unreadable(path: String, errno: Int32)
    /// The file is not an `ar` archive (libarchive's reason).
    case notAnArArchive(path: String, reason: String)
    /// A member is not the one expected at its position (`expected` describes the
    /// position: `debian-binary`, `control.tar[.gz|.xz|.zst]`, `data.tar[…]`, `end of archive`).
    case unexpectedMember(path: String, member: String, expected: String)
    /// The archive ended before the member `expected`.
    case missingMember(path: String, expected: String)
    /// `debian-binary` names a format other than 2.x.
    case unsupportedFormatVersion(path: String, version: String)
    /// The archive or a member is damaged or truncated (`member` nil: between members).
    case corrupt(path: String, member: String?, reason: String)
    /// A member, or the decompressed control tarball, exceeds `limit` bytes (or entries).
    case tooLarge(path: String, member: String, limit: Int64)
    /// The control tarball holds something it may not (a non-regular file inside it, a
    /// bad name) or lacks `control`; `file` is the entry inside the tarball.
    case badControlTarball(path: String, member: String, file: String, reason: String)
    /// The `control` file is not a single valid control paragraph.
    case invalidControl(path: String, ControlFileError)
    /// A line of `md5sums` or `conffiles` is malformed (`line` is 1-based).
    case malformedControlFile(path: String, file: String, line: Int, reason: String)
    /// The data member could not be written to `destination` (`errno`; `EEXIST` when the
    /// destination already exists).
    case cannotWrite(path: String, destination: String, errno: Int32)
}

/// A Debian binary package (`.deb`) whose structure was checked and whose control
/// tarball was read completely into memory.
///
/// Guarantees: immutable and `Sendable`; the file is an `ar` archive (read with
/// libarchive's `ar` reader only) holding exactly `debian-binary` (format 2.x),
/// `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst|.bz2]`, in that order and
/// nothing else; the control tarball was read with the tar reader and the one
/// decompressor its name implies, within `Limits`; `control` is its single paragraph.
/// The data tarball is not inspected: `LayerUnpacker` checks it when it unpacks the copy.
public struct DebPackage: Sendable {
    /// Caps on what a `.deb` may make strata hold in memory.
    public struct Limits: Sendable, Hashable {
        /// The control tarball's bytes, both compressed and decompressed.
        public var controlBytes: Int64
        /// Entries in the control tarball.
        public var controlEntries: Int
        public init(controlBytes: Int64 = 16 << 20, controlEntries: Int = 4096) {
            self.controlBytes = controlBytes
            self.controlEntries = controlEntries
        }
    }

    /// The file that was read, as the caller named it.
    public let path: String
    /// The content of `debian-binary` without its newline (`2.0`).
    public let formatVersion: String
    /// The `control.tar…` member's name and compression.
    public let controlMember: String
    public let controlCompression: DebCompression
    /// The `control` file's paragraph.
    public let control: ControlParagraph
    /// Every regular file of the control tarball by name (`control`, `md5sums`, `postinst`, …),
    /// without the leading `./`.
    public let controlFiles: [String: [UInt8]]
    /// The `md5sums` lines, in file order (empty without `md5sums`).
    public let md5sums: [DebFileChecksum]
    /// The `conffiles` lines (absolute paths, possibly with a leading flag such as
    /// `remove-on-upgrade `), in file order; empty without `conffiles`.
    public let conffiles: [String]
    /// The maintainer scripts and control files the package carries, as bytes.
    public let scripts: [MaintainerScript: [UInt8]]
    /// The data member; its bytes were copied when `read` was given a destination.
    public let data: DebDataMember

    /// Reads the `.deb` at `path` in one pass. When `destination` is not nil, the data
    /// member's bytes (still compressed) are streamed to a new file there (created with
    /// `O_EXCL`, mode 0600; removed again when the package is refused).
    public static func read(path: String, copyingDataTo destination: String? = nil,
                            limits: Limits = Limits()) throws(DebPackageError) -> DebPackage {
        let reader = try ArMemberReader(path: path)
        // debian-binary
        guard let first = try reader.next(expected: "debian-binary", first: true) else {
            throw .missingMember(path: path, expected: "debian-binary")
        }
        guard first.name == "debian-binary" else {
            throw .unexpectedMember(path: path, member: first.name, expected: "debian-binary")
        }
        let versionBytes = try reader.readAll(member: first.name, limit: 64)
        let version = try parseFormatVersion(versionBytes, path: path)

        // control.tar[.gz|.xz|.zst]
        let controlExpected = "control.tar[.gz|.xz|.zst]"
        guard let second = try reader.next(expected: controlExpected, first: false) else {
            throw .missingMember(path: path, expected: controlExpected)
        }
        guard let controlCompression = compression(of: second.name, base: "control.tar", allowed: [.none, .gzip, .xz, .zstd]) else {
            throw .unexpectedMember(path: path, member: second.name, expected: controlExpected)
        }
        if second.size > limits.controlBytes {
            throw .tooLarge(path: path, member: second.name, limit: limits.controlBytes)
        }
        let controlBytes = try reader.readAll(member: second.name, limit: limits.controlBytes)
        let files = try readControlTarball(controlBytes, compression: controlCompression, path: path,
                                           member: second.name, limits: limits)

        // data.tar[.gz|.xz|.zst|.bz2]
        let dataExpected = "data.tar[.gz|.xz|.zst|.bz2]"
        guard let third = try reader.next(expected: dataExpected, first: false) else {
            throw .missingMember(path: path, expected: dataExpected)
        }
        guard let dataCompression = compression(of: third.name, base: "data.tar", allowed: [.none, .gzip, .xz, .zstd, .bzip2]) else {
            throw .unexpectedMember(path: path, member: third.name, expected: dataExpected)
        }
        if let destination {
            try reader.copy(member: third.name, size: third.size, to: destination)
        } else {
            try reader.skip(member: third.name, size: third.size)
        }
        do throws(DebPackageError) {
            if let extra = try reader.next(expected: "end of archive", first: false) {
                throw DebPackageError.unexpectedMember(path: path, member: extra.name, expected: "end of archive")
            }
        } catch {
            if let destination { unlink(destination) }
            throw error
        }

        // The control tarball's files.
        do throws(DebPackageError) {
            guard let controlFile = files["control"] else {
                throw DebPackageError.badControlTarball(path: path, member: second.name, file: "control", reason: "missing")
            }
            let paragraphs: [ControlParagraph]
            do { paragraphs = try ControlFile.parse(controlFile) } catch { throw DebPackageError.invalidControl(path: path, error) }
            guard paragraphs.count == 1 else {
                throw DebPackageError.invalidControl(path: path, paragraphs.isEmpty
                    ? .missingField("Package", package: nil, line: 1)
                    : .unexpectedParagraph(line: paragraphs[1].line))
            }
            let md5sums = try files["md5sums"].map { bytes throws(DebPackageError) in try parseMD5Sums(bytes, path: path) } ?? []
            let conffiles = try files["conffiles"].map { bytes throws(DebPackageError) in try parseConffiles(bytes, path: path) } ?? []
            var scripts: [MaintainerScript: [UInt8]] = [:]
            for script in MaintainerScript.allCases { scripts[script] = files[script.rawValue] }
            return DebPackage(
                path: path, formatVersion: version, controlMember: second.name, controlCompression: controlCompression,
                control: paragraphs[0], controlFiles: files, md5sums: md5sums, conffiles: conffiles, scripts: scripts,
                data: DebDataMember(name: third.name, compression: dataCompression, size: third.size, destination: destination))
        } catch {
            if let destination { unlink(destination) }
            throw error
        }
    }

    /// The compression `name` implies when it is `base` plus one of the `allowed` suffixes.
    static func compression(of name: String, base: String, allowed: Set<DebCompression>) -> DebCompression? {
        let suffixes: [(String, DebCompression)] = [("", .none), (".gz", .gzip), (".xz", .xz), (".zst", .zstd), (".bz2", .bzip2)]
        for (suffix, compression) in suffixes where allowed.contains(compression) && name == base + suffix {
            return compression
        }
        return nil
    }

    /// `2.0\n` and any other `2.x` (dpkg reads the major number and ignores the rest).
    static func parseFormatVersion(_ bytes: [UInt8], path: String) throws(DebPackageError) -> String {
        var text = bytes
        if text.last == UInt8(ascii: "\n") { text.removeLast() }
        let version = String(decoding: text, as: UTF8.self)
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let digits = { (part: ArraySlice<UInt8>) in !part.isEmpty && part.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard parts.count == 2, parts[0].elementsEqual([UInt8(ascii: "2")]), digits(parts[1]) else {
            throw .unsupportedFormatVersion(path: path, version: version)
        }
        return version
    }

    static func lines(_ bytes: [UInt8], path: String, file: String) throws(DebPackageError) -> [(Int, String)] {
        var result: [(Int, String)] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard !line.isEmpty else { continue }
            guard let text = String(validating: line, as: UTF8.self) else {
                throw .malformedControlFile(path: path, file: file, line: index + 1, reason: "not UTF-8")
            }
            result.append((index + 1, text))
        }
        return result
    }

    static func parseMD5Sums(_ bytes: [UInt8], path: String) throws(DebPackageError) -> [DebFileChecksum] {
        try lines(bytes, path: path, file: "md5sums").map { (number, line) throws(DebPackageError) in
            let utf8 = Array(line.utf8)
            let isHex = { (c: UInt8) in (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) }
            guard utf8.count > 34, utf8[..<32].allSatisfy(isHex), utf8[32] == 0x20, utf8[33] == 0x20 else {
                throw .malformedControlFile(path: path, file: "md5sums", line: number,
                                            reason: "expected 32 lowercase hex digits, two spaces and a path")
            }
            return DebFileChecksum(md5: String(decoding: utf8[..<32], as: UTF8.self),
                                   path: String(decoding: utf8[34...], as: UTF8.self))
        }
    }

    static func parseConffiles(_ bytes: [UInt8], path: String) throws(DebPackageError) -> [String] {
        try lines(bytes, path: path, file: "conffiles").map { (number, line) throws(DebPackageError) in
            guard line.contains("/") else {
                throw .malformedControlFile(path: path, file: "conffiles", line: number, reason: "expected an absolute path")
            }
            return line
        }
    }

    /// Reads every entry of the control tarball (held in memory) with a second libarchive
    /// reader: tar only, plus the one decompressor the member's name implies.
    static func readControlTarball(_ bytes: [UInt8], compression: DebCompression, path: String, member: String,
                                   limits: Limits) throws(DebPackageError) -> [String: [UInt8]] {
        let reader = try ControlTarReader(bytes: bytes, compression: compression, path: path, member: member)
        var files: [String: [UInt8]] = [:]
        var entries = 0
        var total: Int64 = 0
        while let entry = try reader.next() {
            // Headers count too: the decompressed stream read so far stays within the cap.
            guard reader.decompressedBytes <= limits.controlBytes else {
                throw .tooLarge(path: path, member: member, limit: limits.controlBytes)
            }
            entries += 1
            guard entries <= limits.controlEntries else {
                throw .tooLarge(path: path, member: member, limit: Int64(limits.controlEntries))
            }
            var name = entry.name
            while name.hasPrefix("./") { name.removeFirst(2) }
            if entry.isDirectory {
                guard name.isEmpty || name == "." else {
                    throw .badControlTarball(path: path, member: member, file: entry.name, reason: "a directory inside the control tarball")
                }
                continue
            }
            guard entry.isRegular else {
                throw .badControlTarball(path: path, member: member, file: entry.name, reason: "not a regular file")
            }
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw .badControlTarball(path: path, member: member, file: entry.name, reason: "not a plain file name")
            }
            guard files[name] == nil else {
                throw .badControlTarball(path: path, member: member, file: entry.name, reason: "appears twice")
            }
            let content = try reader.readData(limit: limits.controlBytes - total)
            total += Int64(content.count)
            files[name] = content
        }
        return files
    }
}

/// The text of libarchive's last error on `handle`.
/// The current entry's bytes from either reader; more than `limit` is an error.
private func readEntryData(_ handle: OpaquePointer, path: String, member: String, limit: Int64) throws(DebPackageError) -> [UInt8] {
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = block.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            guard count > 0 else { throw .corrupt(path: path, member: member, reason: archiveError(handle)) }
            guard Int64(bytes.count + count) <= limit else { throw .tooLarge(path: path, member: member, limit: limit) }
            bytes.append(contentsOf: block[..<count])
        }
}

private func archiveError(_ handle: OpaquePointer) -> String {
    if let message = archive_error_string(handle) { return String(cString: message) }
    return "libarchive error \(archive_errno(handle))"
}

/// The `.deb`'s `ar` reader: owns the file descriptor and one `struct archive *` with only
/// the `ar` format enabled and no decompressor. Not thread-safe; used within one `read`.
private final class ArMemberReader {
    let path: String
    let fd: Int32
    let handle: OpaquePointer
    /// Where the members read so far end: the `!<arch>` magic, then a 60-byte header and
    /// the padded bytes of each member.
    private var end: Int64 = 8
    private var endPadded = false

    init(path: String) throws(DebPackageError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        guard let handle = archive_read_new() else {
            close(fd)
            throw .unreadable(path: path, errno: ENOMEM)
        }
        self.fd = fd
        self.handle = handle
        archive_read_support_format_ar(handle)
        guard archive_read_open_fd(handle, fd, 64 << 10) == ARCHIVE_OK else {
            throw .notAnArArchive(path: path, reason: archiveError(handle))
        }
    }

    deinit {
        archive_read_free(handle)
        close(fd)
    }

    /// The next member's name and size, or nil at the end of the archive.
    func next(expected: String, first: Bool) throws(DebPackageError) -> (name: String, size: Int64)? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF {
            // libarchive also ends quietly on a partial member header: the members must
            // account for every byte of the file (dpkg pads odd members with one newline).
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, errno: errno) }
            guard Int64(info.st_size) == end || (endPadded && Int64(info.st_size) == end - 1) else {
                let detail = Int64(info.st_size) > end ? "\(Int64(info.st_size) - end) bytes" : "a missing padding byte"
                throw .corrupt(path: path, member: nil, reason: "\(detail) after the last member where \(expected) belongs (truncated or trailing garbage)")
            }
            return nil
        }
        guard status == ARCHIVE_OK, let entry else {
            let reason = archiveError(handle)
            if first { throw .notAnArArchive(path: path, reason: reason) }
            throw .corrupt(path: path, member: nil, reason: "before \(expected): \(reason)")
        }
        guard let cName = archive_entry_pathname(entry) else {
            throw .corrupt(path: path, member: nil, reason: "a member without a name where \(expected) belongs")
        }
        let name = String(cString: cName)
        guard archive_entry_size_is_set(entry) != 0, archive_entry_size(entry) >= 0 else {
            throw .corrupt(path: path, member: name, reason: "no member size")
        }
        let size = archive_entry_size(entry)
        end += 60 + size + size % 2
        endPadded = size % 2 == 1
        return (name, size)
    }

    /// The current member's bytes; more than `limit` is an error.
    func readAll(member: String, limit: Int64) throws(DebPackageError) -> [UInt8] {
        try readEntryData(handle, path: path, member: member, limit: limit)
    }

    /// Reads past the current member, checking that all its `size` bytes are there.
    func skip(member: String, size: Int64) throws(DebPackageError) {
        try stream(member: member, size: size) { _ throws(DebPackageError) in }
    }

    /// Streams the current member to a new file at `destination`; removes it on failure.
    func copy(member: String, size: Int64, to destination: String) throws(DebPackageError) {
        let out = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard out >= 0 else { throw .cannotWrite(path: path, destination: destination, errno: errno) }
        do throws(DebPackageError) {
            try stream(member: member, size: size) { block throws(DebPackageError) in
                var offset = 0
                while offset < block.count {
                    let written = write(out, block.baseAddress! + offset, block.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw .cannotWrite(path: path, destination: destination, errno: errno)
                    }
                    offset += written
                }
            }
            guard close(out) == 0 else {
                let error = errno
                unlink(destination)
                throw DebPackageError.cannotWrite(path: path, destination: destination, errno: error)
            }
        } catch {
            close(out)
            unlink(destination)
            throw error
        }
    }

    private func stream(member: String, size: Int64,
                        _ body: (UnsafeRawBufferPointer) throws(DebPackageError) -> Void) throws(DebPackageError) {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { block.deallocate() }
        var total: Int64 = 0
        while true {
            let count = archive_read_data(handle, block.baseAddress, block.count)
            if count == 0 { break }
            guard count > 0 else { throw .corrupt(path: path, member: member, reason: archiveError(handle)) }
            total += Int64(count)
            guard total <= size else { throw .corrupt(path: path, member: member, reason: "longer than its size \(size)") }
            try body(UnsafeRawBufferPointer(rebasing: block[..<count]))
        }
        guard total == size else {
            throw .corrupt(path: path, member: member, reason: "truncated: \(total) of \(size) bytes")
        }
    }
}

/// The control tarball's reader: owns a copy of the member's bytes and one
/// `struct archive *` with only the tar format and the decompressor `compression` names.
/// Not thread-safe; used within one `read`.
private final class ControlTarReader {
    let path: String
    let member: String
    let buffer: UnsafeMutableRawBufferPointer
    let handle: OpaquePointer

    init(bytes: [UInt8], compression: DebCompression, path: String, member: String) throws(DebPackageError) {
        self.path = path
        self.member = member
        guard let handle = archive_read_new() else { throw .corrupt(path: path, member: member, reason: "libarchive: out of memory") }
        // libarchive reads the buffer while this reader lives: keep our own stable copy.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        self.handle = handle
        archive_read_support_format_tar(handle)
        switch compression {
        case .none: break
        case .gzip: archive_read_support_filter_gzip(handle)
        case .xz: archive_read_support_filter_xz(handle)
        case .zstd: archive_read_support_filter_zstd(handle)
        case .bzip2: archive_read_support_filter_bzip2(handle)
        }
        guard archive_read_open_memory(handle, buffer.baseAddress, bytes.count) == ARCHIVE_OK else {
            throw .corrupt(path: path, member: member, reason: archiveError(handle))
        }
    }

    deinit {
        archive_read_free(handle)
        buffer.deallocate()
    }

    struct Entry { let name: String; let isRegular: Bool; let isDirectory: Bool }

    /// Bytes of the decompressed tar stream consumed so far.
    var decompressedBytes: Int64 { archive_filter_bytes(handle, 0) }

    func next() throws(DebPackageError) -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK, let entry else {
            throw .corrupt(path: path, member: member, reason: archiveError(handle))
        }
        guard let cName = archive_entry_pathname(entry) else {
            throw .badControlTarball(path: path, member: member, file: "", reason: "an entry without a name")
        }
        let type = archive_entry_filetype(entry) & 0o170000  // S_IFMT
        return Entry(name: String(cString: cName), isRegular: type == 0o100000, isDirectory: type == 0o040000)
    }

    func readData(limit: Int64) throws(DebPackageError) -> [UInt8] {
        try readEntryData(handle, path: path, member: member, limit: limit)
    }
}

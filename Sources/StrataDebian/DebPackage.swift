import Glibc
import StrataArchive

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
        let reader = try ar(path, try ArReader(path: path))
        // debian-binary
        guard let first = try ar(path, try reader.next(expected: "debian-binary")) else {
            throw .missingMember(path: path, expected: "debian-binary")
        }
        guard first.name == "debian-binary" else {
            throw .unexpectedMember(path: path, member: first.name, expected: "debian-binary")
        }
        let versionBytes = try ar(path, try reader.readAll(member: first.name, limit: 64))
        let version = try parseFormatVersion(versionBytes, path: path)

        // control.tar[.gz|.xz|.zst]
        let controlExpected = "control.tar[.gz|.xz|.zst]"
        guard let second = try ar(path, try reader.next(expected: controlExpected)) else {
            throw .missingMember(path: path, expected: controlExpected)
        }
        guard let controlCompression = compression(of: second.name, base: "control.tar", allowed: [.none, .gzip, .xz, .zstd]) else {
            throw .unexpectedMember(path: path, member: second.name, expected: controlExpected)
        }
        if second.size > limits.controlBytes {
            throw .tooLarge(path: path, member: second.name, limit: limits.controlBytes)
        }
        let controlBytes = try ar(path, try reader.readAll(member: second.name, limit: limits.controlBytes))
        let files = try readControlTarball(controlBytes, compression: controlCompression, path: path,
                                           member: second.name, limits: limits)

        // data.tar[.gz|.xz|.zst|.bz2]
        let dataExpected = "data.tar[.gz|.xz|.zst|.bz2]"
        guard let third = try ar(path, try reader.next(expected: dataExpected)) else {
            throw .missingMember(path: path, expected: dataExpected)
        }
        guard let dataCompression = compression(of: third.name, base: "data.tar", allowed: [.none, .gzip, .xz, .zstd, .bzip2]) else {
            throw .unexpectedMember(path: path, member: third.name, expected: dataExpected)
        }
        if let destination {
            try ar(path, try reader.copy(member: third.name, size: third.size, to: destination))
        } else {
            try ar(path, try reader.skip(member: third.name, size: third.size))
        }
        do throws(DebPackageError) {
            if let extra = try ar(path, try reader.next(expected: "end of archive")) {
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
        let tarCompression: MemoryTarReader.Compression
        switch compression {
        case .none: tarCompression = .none
        case .gzip: tarCompression = .gzip
        case .xz: tarCompression = .xz
        case .zstd: tarCompression = .zstd
        case .bzip2: tarCompression = .bzip2
        }
        let reader = try controlTar(path, member, try MemoryTarReader(bytes: bytes, compression: tarCompression))
        var files: [String: [UInt8]] = [:]
        var entries = 0
        var total: Int64 = 0
        while let entry = try controlTar(path, member, try reader.next()) {
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
            let content = try controlTar(path, member, try reader.readData(limit: limits.controlBytes - total))
            total += Int64(content.count)
            files[name] = content
        }
        return files
    }
}

extension DebPackageError {
    init(_ failure: ArReader.Failure, path: String) {
        switch failure {
        case .unreadable(let code): self = .unreadable(path: path, errno: code)
        case .notAnArArchive(let reason): self = .notAnArArchive(path: path, reason: reason)
        case .corrupt(let member, let reason): self = .corrupt(path: path, member: member, reason: reason)
        case .tooLarge(let member, let limit): self = .tooLarge(path: path, member: member, limit: limit)
        case .cannotWrite(let destination, let code): self = .cannotWrite(path: path, destination: destination, errno: code)
        }
    }

    init(_ failure: MemoryTarReader.Failure, path: String, member: String) {
        switch failure {
        case .corrupt(let reason): self = .corrupt(path: path, member: member, reason: reason)
        case .unnamedEntry: self = .badControlTarball(path: path, member: member, file: "", reason: "an entry without a name")
        case .tooLarge(let limit): self = .tooLarge(path: path, member: member, limit: limit)
        }
    }
}

/// A step of the `ar` reader, its failure as the package's error.
private func ar<T>(_ path: String, _ step: @autoclosure () throws(ArReader.Failure) -> T) throws(DebPackageError) -> T {
    do { return try step() } catch { throw DebPackageError(error, path: path) }
}

/// A step of the control tarball's reader, its failure as the package's error.
private func controlTar<T>(_ path: String, _ member: String,
                        _ step: @autoclosure () throws(MemoryTarReader.Failure) -> T) throws(DebPackageError) -> T {
    do { return try step() } catch { throw DebPackageError(error, path: path, member: member) }
}

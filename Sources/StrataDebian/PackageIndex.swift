import Dispatch
import Glibc
import StrataModel

/// One binary package of a `Packages` index: what a resolver and a downloader need.
///
/// Guarantees: the mandatory fields (Package, Version, Architecture, Filename, Size,
/// SHA256) were present and `sha256` is a well-formed digest. Versions and relation
/// fields are kept as the archive wrote them (trimmed; continuation lines joined by
/// `\n`); parsing them is the resolver's job.
public struct PackageRecord: Sendable, Hashable {
    public var name: String
    public var version: String
    public var architecture: String
    /// `Multi-Arch`; `.no` when the field is absent.
    public var multiArch: MultiArch
    /// `Essential: yes`.
    public var isEssential: Bool
    public var priority: String?
    public var depends: String?
    public var preDepends: String?
    public var recommends: String?
    public var conflicts: String?
    public var breaks: String?
    public var provides: String?
    /// The pool path relative to the archive root (`pool/main/…/x.deb`).
    public var filename: String
    public var size: Int
    public var sha256: Digest
    /// 1-based line of the stanza's first field in the index.
    public var line: Int

    public init(
        name: String, version: String, architecture: String, multiArch: MultiArch = .no, isEssential: Bool = false,
        priority: String? = nil, depends: String? = nil, preDepends: String? = nil, recommends: String? = nil,
        conflicts: String? = nil, breaks: String? = nil, provides: String? = nil,
        filename: String, size: Int, sha256: Digest, line: Int = 0
    ) {
        self.name = name; self.version = version; self.architecture = architecture
        self.multiArch = multiArch; self.isEssential = isEssential; self.priority = priority
        self.depends = depends; self.preDepends = preDepends; self.recommends = recommends
        self.conflicts = conflicts; self.breaks = breaks; self.provides = provides
        self.filename = filename; self.size = size; self.sha256 = sha256; self.line = line
    }
}

/// The `Multi-Arch` field of a binary package (dpkg's four values).
public enum MultiArch: String, Sendable, Hashable {
    case no, same, foreign, allowed
}

/// A parsed `Packages` index.
///
/// Guarantees: immutable; `records` are in index order; `byName` maps every package name
/// to the positions of all its records (several versions or architectures), in index order.
public struct PackageIndex: Sendable {
    public let records: [PackageRecord]
    public let byName: [String: [Int]]

    /// Parses a whole `Packages` file (uncompressed).
    public init(parsing bytes: [UInt8]) throws(ControlFileError) {
        let result: Result<[PackageRecord], ControlFileError> = bytes.withUnsafeBytes { raw in
            do throws(ControlFileError) { return .success(try Self.parseRecords(raw)) } catch { return .failure(error) }
        }
        self.init(records: try result.get())
    }

    /// Parses a whole `Packages` file (uncompressed) from memory the caller owns (a mapping
    /// of the cached index, say); nothing refers to `buffer` afterwards.
    public init(parsing buffer: UnsafeRawBufferPointer) throws(ControlFileError) {
        self.init(records: try Self.parseRecords(buffer))
    }

    public init(records: [PackageRecord]) {
        self.records = records
        var byName: [String: [Int]] = [:]
        byName.reserveCapacity(records.count)
        for (i, record) in records.enumerated() { byName[record.name, default: []].append(i) }
        self.byName = byName
    }

    /// Every record of package `name`, in index order.
    public func records(named name: String) -> [PackageRecord] {
        (byName[name] ?? []).map { records[$0] }
    }

    // Bit per field kept, to refuse duplicates without a dictionary per stanza.
    private enum Slot: Int {
        case package, version, architecture, multiArch, essential, priority, depends, preDepends
        case recommends, conflicts, breaks, provides, filename, size, sha256
    }

    /// Indexes smaller than this are parsed on one thread: splitting would cost more than it saves.
    static let parallelThreshold = 4 << 20

    static func parseRecords(_ raw: UnsafeRawBufferPointer) throws(ControlFileError) -> [PackageRecord] {
        let scanner = ControlScanner(raw)
        let chunks = Self.chunks(of: scanner, count: raw.count >= parallelThreshold ? min(Self.processorCount(), 8) : 1)
        if chunks.count == 1 {
            return try parseChunk(ControlScanner(base: scanner.base, start: 0, end: scanner.end, line: 1)).records
        }
        // Stanzas never span a blank line, so chunks cut after one parse independently; each
        // numbers its lines from 1 and is shifted by the lines of the chunks before it.
        let results = UnsafeMutableBufferPointer<Result<Chunk, ControlFileError>>.allocate(capacity: chunks.count)
        results.initialize(repeating: .success(Chunk(records: [], lines: 0)))
        defer { results.deinitialize(); results.deallocate() }
        let shared = SharedScan(base: scanner.base, results: results)
        DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
            let chunkScanner = ControlScanner(base: shared.base, start: chunks[i].lowerBound, end: chunks[i].upperBound, line: 1)
            do throws(ControlFileError) {
                shared.results[i] = .success(try parseChunk(chunkScanner))
            } catch {
                shared.results[i] = .failure(error)
            }
        }
        var records: [PackageRecord] = []
        records.reserveCapacity(results.reduce(0) { total, result in
            if case .success(let chunk) = result { return total + chunk.records.count }
            return total
        })
        var offset = 0
        for result in results {
            switch result {
            case .failure(let error): throw error.shiftingLines(by: offset)
            case .success(let chunk):
                if offset == 0 {
                    records.append(contentsOf: chunk.records)
                } else {
                    for var record in chunk.records {
                        record.line += offset
                        records.append(record)
                    }
                }
                offset += chunk.lines
            }
        }
        return records
    }

    /// The buffer and the per-chunk results, handed to the worker threads. Each thread
    /// writes only its own result slot, and the buffer is not mutated while they run.
    private struct SharedScan: @unchecked Sendable {
        let base: UnsafePointer<UInt8>
        let results: UnsafeMutableBufferPointer<Result<Chunk, ControlFileError>>
    }

    struct Chunk {
        var records: [PackageRecord]
        /// Lines the chunk holds (its newlines).
        var lines: Int
    }

    static func processorCount() -> Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Up to `count` ranges covering the buffer, each cut right after an empty line
    /// (`\n\n`) near an equal share; fewer when no such line is found.
    static func chunks(of scanner: ControlScanner, count: Int) -> [Range<Int>] {
        guard count > 1 else { return [0..<scanner.end] }
        var cuts: [Int] = [0]
        for k in 1..<count {
            var p = max(cuts.last!, scanner.end / count * k)
            var cut: Int?
            while p < scanner.end - 1 {
                let newline = scanner.lineEnd(p)
                if newline + 1 < scanner.end && scanner.base[newline + 1] == 0x0A { cut = newline + 2; break }
                p = newline + 1
            }
            guard let cut else { break }
            if cut < scanner.end { cuts.append(cut) }
        }
        cuts.append(scanner.end)
        return zip(cuts, cuts.dropFirst()).map { $0..<$1 }
    }

    static func parseChunk(_ start: ControlScanner) throws(ControlFileError) -> Chunk {
        var scanner = start
        var records: [PackageRecord] = []
        // bookworm main: ~790 bytes a stanza; a close guess saves the array's regrowth copies.
        records.reserveCapacity((scanner.end - scanner.pos) / 700 + 16)
        // One slot per kept field, reused for every stanza: no allocation or reference
        // counting per stanza.
        let fields = UnsafeMutablePointer<RawField>.allocate(capacity: 15)
        defer { fields.deallocate() }
        fields.initialize(repeating: RawField(nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, line: 0, isMultiline: false), count: 15)
        while scanner.startParagraph() {
            let first = scanner.line
            var seen: UInt32 = 0
            while let field = try scanner.nextField() {
                guard let slot = Self.slot(of: field, in: scanner) else { continue }
                let bit = UInt32(1) << UInt32(slot.rawValue)
                if seen & bit != 0 {
                    throw .duplicateField(
                        String(decoding: UnsafeBufferPointer(start: scanner.base + field.nameStart, count: field.nameEnd - field.nameStart), as: UTF8.self),
                        line: field.line)
                }
                seen |= bit
                fields[slot.rawValue] = field
            }
            records.append(try Self.record(fields, seen: seen, line: first, scanner))
        }
        return Chunk(records: records, lines: scanner.line - start.line)
    }

    @inline(__always) private static func slot(of f: RawField, in s: ControlScanner) -> Slot? {
        let a = f.nameStart, b = f.nameEnd
        // Dispatch on length and first letter before comparing whole names.
        switch (b - a, asciiLower(s.base[a])) {
        case (7, 0x70): return s.nameIs(a, b, "package") ? .package : nil
        case (7, 0x76): return s.nameIs(a, b, "version") ? .version : nil
        case (7, 0x64): return s.nameIs(a, b, "depends") ? .depends : nil
        case (12, 0x61): return s.nameIs(a, b, "architecture") ? .architecture : nil
        case (10, 0x6D): return s.nameIs(a, b, "multi-arch") ? .multiArch : nil
        case (10, 0x72): return s.nameIs(a, b, "recommends") ? .recommends : nil
        case (9, 0x65): return s.nameIs(a, b, "essential") ? .essential : nil
        case (9, 0x63): return s.nameIs(a, b, "conflicts") ? .conflicts : nil
        case (8, 0x70):
            if s.nameIs(a, b, "priority") { return .priority }
            return s.nameIs(a, b, "provides") ? .provides : nil
        case (8, 0x66): return s.nameIs(a, b, "filename") ? .filename : nil
        case (11, 0x70): return s.nameIs(a, b, "pre-depends") ? .preDepends : nil
        case (6, 0x62): return s.nameIs(a, b, "breaks") ? .breaks : nil
        case (6, 0x73): return s.nameIs(a, b, "sha256") ? .sha256 : nil
        case (4, 0x73): return s.nameIs(a, b, "size") ? .size : nil
        default: return nil
        }
    }

    private static func record(_ fields: UnsafeMutablePointer<RawField>, seen: UInt32, line: Int, _ s: ControlScanner) throws(ControlFileError) -> PackageRecord {
        func has(_ slot: Slot) -> Bool { seen & (UInt32(1) << UInt32(slot.rawValue)) != 0 }
        func text(_ slot: Slot) throws(ControlFileError) -> String? {
            guard has(slot) else { return nil }
            let f = fields[slot.rawValue]
            guard let value = s.value(f.valueStart, f.valueEnd, multiline: f.isMultiline) else { throw .invalidUTF8(line: f.line) }
            return value
        }
        guard let name = try text(.package), !name.isEmpty else {
            throw .missingField("Package", package: nil, line: line)
        }
        func required(_ slot: Slot, _ fieldName: String) throws(ControlFileError) -> String {
            guard let value = try text(slot), !value.isEmpty else { throw .missingField(fieldName, package: name, line: line) }
            return value
        }
        func invalid(_ slot: Slot, _ fieldName: String, _ value: String) -> ControlFileError {
            .invalidValue(field: fieldName, value: value, package: name, line: fields[slot.rawValue].line)
        }
        let version = try required(.version, "Version")
        let architecture = try required(.architecture, "Architecture")
        let filename = try required(.filename, "Filename")
        let sizeText = try required(.size, "Size")
        guard let size = Self.decimal(sizeText) else { throw invalid(.size, "Size", sizeText) }
        let hex = try required(.sha256, "SHA256")
        let sha256: Digest
        do { sha256 = try Digest(hex: hex) } catch { throw invalid(.sha256, "SHA256", hex) }
        var multiArch = MultiArch.no
        if let value = try text(.multiArch) {
            guard let parsed = MultiArch(rawValue: value) else { throw invalid(.multiArch, "Multi-Arch", value) }
            multiArch = parsed
        }
        var essential = false
        if let value = try text(.essential) {
            switch value {
            case "yes": essential = true
            case "no": essential = false
            default: throw invalid(.essential, "Essential", value)
            }
        }
        return PackageRecord(
            name: name, version: version, architecture: architecture, multiArch: multiArch, isEssential: essential,
            priority: try text(.priority), depends: try text(.depends), preDepends: try text(.preDepends),
            recommends: try text(.recommends), conflicts: try text(.conflicts), breaks: try text(.breaks),
            provides: try text(.provides), filename: filename, size: size, sha256: sha256, line: line)
    }

    /// A non-negative decimal that fits an `Int` (no sign, no spaces), else nil.
    static func decimal(_ text: String) -> Int? {
        var value = 0
        var digits = 0
        for byte in text.utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(byte - 0x30))
            if o1 || o2 { return nil }
            value = a
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}

import Glibc

/// deb822 control data (Packages indexes, Release files, dpkg status): paragraphs of
/// `Name: value` fields separated by blank lines.
///
/// Guarantees: the input bytes are read once and never copied per field; values become
/// `String`s only when asked for. Every syntax error names its 1-based line. Field names
/// compare ASCII case-insensitively; a paragraph never holds the same field twice.
///
/// Syntax accepted (deb822(5)):
/// - a line starting with space or tab continues the previous field;
/// - a line holding only spaces, tabs (or a CR) separates paragraphs, like an empty line;
/// - a line with `#` in column 0 is a comment, between or inside paragraphs (a `#` after
///   leading whitespace is part of a continuation value, as deb822 says);
/// - lines may end in CRLF.
public enum ControlFile {
    /// Every paragraph of `bytes`. The paragraphs share `bytes` (no copy).
    public static func parse(_ bytes: [UInt8]) throws(ControlFileError) -> [ControlParagraph] {
        let result: Result<[ControlParagraph], ControlFileError> = bytes.withUnsafeBytes { raw in
            var scanner = ControlScanner(raw)
            var paragraphs: [ControlParagraph] = []
            do throws(ControlFileError) {
                while scanner.startParagraph() {
                    let first = scanner.line
                    var fields: [ControlField] = []
                    while let raw = try scanner.nextField() {
                        let field = ControlField(raw)
                        for other in fields where other.nameEquals(field, in: scanner) {
                            return .failure(.duplicateField(field.name(in: bytes), line: field.line))
                        }
                        fields.append(field)
                    }
                    paragraphs.append(ControlParagraph(storage: bytes, line: first, fields: fields))
                }
            } catch { return .failure(error) }
            return .success(paragraphs)
        }
        return try result.get()
    }

    /// Every paragraph of the bytes behind `buffer`, which is copied once (a paragraph
    /// outlives the buffer).
    public static func parse(_ buffer: UnsafeRawBufferPointer) throws(ControlFileError) -> [ControlParagraph] {
        try parse([UInt8](buffer))
    }
}

/// One paragraph (stanza) of a control file.
///
/// Guarantees: immutable; field names are unique (case-insensitively); values are decoded
/// from the shared document bytes on each access.
public struct ControlParagraph: Sendable {
    /// The whole document this paragraph was read from.
    let storage: [UInt8]
    /// 1-based line of the paragraph's first field.
    public let line: Int
    /// The fields in document order.
    public let fields: [ControlField]

    /// The field called `name` (ASCII case-insensitive), if present.
    public func field(_ name: String) -> ControlField? {
        let wanted = Array(name.utf8)
        return fields.first { field in
            field.nameRange.count == wanted.count
                && zip(storage[field.nameRange], wanted).allSatisfy { asciiLower($0) == asciiLower($1) }
        }
    }

    /// The value of field `name` (see `ControlField.value(in:)`), or nil if absent or not
    /// UTF-8; `value(_:)` tells the two apart.
    public subscript(name: String) -> String? {
        guard let field = field(name) else { return nil }
        return try? field.value(in: self)
    }

    /// The value of field `name`, or nil if absent; invalid UTF-8 is an error naming the line.
    public func value(_ name: String) throws(ControlFileError) -> String? {
        guard let field = field(name) else { return nil }
        return try field.value(in: self)
    }

    /// Whether nothing but whitespace follows the colon on the field's own line.
    func firstLineIsEmpty(_ field: ControlField) -> Bool {
        var p = field.valueRange.lowerBound
        while p < field.valueRange.upperBound, storage[p] != 0x0A {
            if !ControlScanner.isSpace(storage[p]) { return false }
            p += 1
        }
        return true
    }

    /// The field names in document order, as written.
    public var names: [String] { fields.map { $0.name(in: storage) } }
}

/// Where one field sits in its document: byte ranges, turned into text only on request.
public struct ControlField: Sendable, Hashable {
    /// The bytes of the name (before the colon).
    public let nameRange: Range<Int>
    /// The bytes after the colon up to the end of the field's last continuation line
    /// (untrimmed; may include CRs and column-0 comment lines, which `value` drops).
    public let valueRange: Range<Int>
    /// 1-based line of the `Name:` line.
    public let line: Int
    /// Whether the value spans continuation lines.
    public let isMultiline: Bool

    init(_ raw: RawField) {
        nameRange = raw.nameStart..<raw.nameEnd
        valueRange = raw.valueStart..<raw.valueEnd
        line = raw.line
        isMultiline = raw.isMultiline
    }

    /// The field name as written.
    public func name(in paragraph: ControlParagraph) -> String { name(in: paragraph.storage) }

    func name(in storage: [UInt8]) -> String { String(decoding: storage[nameRange], as: UTF8.self) }

    /// The value: every line with surrounding whitespace (and CR) removed, comment lines
    /// dropped, an empty first line dropped (`SHA256:` lists start on the next line),
    /// lines joined by `\n`. A one-line value is simply trimmed.
    public func value(in paragraph: ControlParagraph) throws(ControlFileError) -> String {
        let result: String? = paragraph.storage.withUnsafeBytes { raw in
            ControlScanner.decodeValue(raw, valueRange.lowerBound, valueRange.upperBound, multiline: isMultiline)
        }
        guard let result else { throw .invalidUTF8(line: line) }
        return result
    }

    /// The value's lines (as `value(in:)` makes them), for multiline fields such as the
    /// `SHA256:` list of a Release file.
    public func lines(in paragraph: ControlParagraph) throws(ControlFileError) -> [String] {
        let text = try value(in: paragraph)
        if text.isEmpty { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func nameEquals(_ other: ControlField, in scanner: ControlScanner) -> Bool {
        scanner.namesEqual(nameRange.lowerBound, nameRange.upperBound, other.nameRange.lowerBound, other.nameRange.upperBound)
    }
}

/// Why control data was refused. One type for the Debian metadata readers (deb822
/// syntax, Packages indexes, Release/InRelease files); each case carries the 1-based
/// line it is about and, where known, the package.
public enum ControlFileError: Error, Equatable, Sendable {
    /// A line in a paragraph that is not `Name: value`, a continuation or a comment.
    case missingColon(line: Int)
    /// `: value` with nothing before the colon.
    case emptyFieldName(line: Int)
    /// A field name with whitespace or control characters, or starting with `-`.
    case invalidFieldName(String, line: Int)
    /// A continuation line (leading space or tab) that starts a paragraph.
    case continuationWithoutField(line: Int)
    /// The same field twice in one paragraph.
    case duplicateField(String, line: Int)
    /// Bytes that are not UTF-8 in the field on this line.
    case invalidUTF8(line: Int)
    /// A mandatory field is absent from the paragraph starting at `line`.
    case missingField(String, package: String?, line: Int)
    /// A field whose value cannot be understood (a size that is not a number, a bad digest…).
    case invalidValue(field: String, value: String, package: String?, line: Int)
    /// A second paragraph where the format has one (a Release file).
    case unexpectedParagraph(line: Int)
    /// InRelease content that is not an OpenPGP clear-signed message.
    case notClearSigned
    /// A clear-signed message whose armor is broken or carries text outside the signed part.
    case malformedClearSignature(String, line: Int)
}

extension ControlFileError {
    /// The same error with its line moved by `offset` (for a chunk parsed on its own).
    func shiftingLines(by offset: Int) -> ControlFileError {
        guard offset != 0 else { return self }
        switch self {
        case .missingColon(let line): return .missingColon(line: line + offset)
        case .emptyFieldName(let line): return .emptyFieldName(line: line + offset)
        case .invalidFieldName(let name, let line): return .invalidFieldName(name, line: line + offset)
        case .continuationWithoutField(let line): return .continuationWithoutField(line: line + offset)
        case .duplicateField(let name, let line): return .duplicateField(name, line: line + offset)
        case .invalidUTF8(let line): return .invalidUTF8(line: line + offset)
        case .missingField(let field, let package, let line): return .missingField(field, package: package, line: line + offset)
        case .invalidValue(let field, let value, let package, let line):
            return .invalidValue(field: field, value: value, package: package, line: line + offset)
        case .unexpectedParagraph(let line): return .unexpectedParagraph(line: line + offset)
        case .notClearSigned: return self
        case .malformedClearSignature(let reason, let line): return .malformedClearSignature(reason, line: line + offset)
        }
    }
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}

/// A field as the scanner found it: byte offsets into the scanned buffer.
struct RawField {
    var nameStart: Int
    var nameEnd: Int
    var valueStart: Int
    var valueEnd: Int
    var line: Int
    var isMultiline: Bool
}

/// The line scanner under every reader: walks a buffer with `memchr`, never copies.
/// Not thread-safe; valid only while the buffer it was made from is.
struct ControlScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    /// Offset of the next unread line.
    var pos = 0
    /// 1-based number of the line starting at `pos`.
    var line = 1

    init(_ raw: UnsafeRawBufferPointer) {
        // An empty buffer may have no address; any valid pointer does for zero bytes.
        base = raw.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 1)!
        end = raw.count
    }

    init(base: UnsafePointer<UInt8>, start: Int, end: Int, line: Int) {
        self.base = base
        self.pos = start
        self.end = end
        self.line = line
    }

    /// Offset of the `\n` ending the line that starts at `p`, or `end`.
    @inline(__always) func lineEnd(_ p: Int) -> Int {
        guard p < end, let hit = memchr(base + p, 0x0A, end - p) else { return end }
        return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
    }

    @inline(__always) func isBlank(_ from: Int, _ to: Int) -> Bool {
        var p = from
        while p < to {
            let c = base[p]
            if c != 0x20 && c != 0x09 && c != 0x0D { return false }
            p += 1
        }
        return true
    }

    @inline(__always) mutating func advance(past lineEnd: Int) {
        pos = lineEnd < end ? lineEnd + 1 : end
        line += 1
    }

    /// Skips separator and comment lines; false at the end of the buffer.
    mutating func startParagraph() -> Bool {
        while pos < end {
            let c = base[pos]
            if c == 0x0A { pos += 1; line += 1; continue }
            if c == 0x23 || c == 0x20 || c == 0x09 || c == 0x0D {
                let le = lineEnd(pos)
                if c == 0x23 || isBlank(pos, le) { advance(past: le); continue }
            }
            return true
        }
        return false
    }

    /// The next field of the current paragraph with its continuation lines, or nil when
    /// the paragraph ends (separator line or end of buffer; the separator is consumed).
    mutating func nextField() throws(ControlFileError) -> RawField? {
        while true {
            guard pos < end else { return nil }
            let c = base[pos]
            if c == 0x0A { pos += 1; line += 1; return nil }
            let le = lineEnd(pos)
            if c == 0x23 { advance(past: le); continue }
            if c == 0x20 || c == 0x09 || c == 0x0D {
                if isBlank(pos, le) { advance(past: le); return nil }
                throw .continuationWithoutField(line: line)
            }
            guard let hit = memchr(base + pos, 0x3A, le - pos) else { throw .missingColon(line: line) }
            let colon = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
            if colon == pos { throw .emptyFieldName(line: line) }
            // deb822: a name is printable US-ASCII without spaces or colons, not starting with '-'.
            var p = pos
            while p < colon {
                let b = base[p]
                if b <= 0x20 || b >= 0x7F {
                    throw .invalidFieldName(String(decoding: UnsafeBufferPointer(start: base + pos, count: colon - pos), as: UTF8.self), line: line)
                }
                p += 1
            }
            if c == 0x2D {
                throw .invalidFieldName(String(decoding: UnsafeBufferPointer(start: base + pos, count: colon - pos), as: UTF8.self), line: line)
            }
            var field = RawField(nameStart: pos, nameEnd: colon, valueStart: colon + 1, valueEnd: le, line: line, isMultiline: false)
            advance(past: le)
            while pos < end {
                let d = base[pos]
                guard d == 0x20 || d == 0x09 || d == 0x23 else { break }
                let next = lineEnd(pos)
                if d != 0x23 {
                    if isBlank(pos, next) { break }
                    field.valueEnd = next
                    field.isMultiline = true
                }
                advance(past: next)
            }
            return field
        }
    }

    func namesEqual(_ a: Int, _ aEnd: Int, _ b: Int, _ bEnd: Int) -> Bool {
        guard aEnd - a == bEnd - b else { return false }
        var i = 0
        while a + i < aEnd {
            if asciiLower(base[a + i]) != asciiLower(base[b + i]) { return false }
            i += 1
        }
        return true
    }

    /// Whether the name at `start..<nameEnd` is `lowered` (ASCII lowercase), case-insensitively.
    @inline(__always) func nameIs(_ start: Int, _ nameEnd: Int, _ lowered: StaticString) -> Bool {
        guard nameEnd - start == lowered.utf8CodeUnitCount else { return false }
        let target = lowered.utf8Start
        var i = 0
        while i < lowered.utf8CodeUnitCount {
            if asciiLower(base[start + i]) != target[i] { return false }
            i += 1
        }
        return true
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }

    /// A single-line value trimmed, as a String; nil if not UTF-8.
    @inline(__always) func trimmedString(_ start: Int, _ stop: Int) -> String? {
        var s = start, e = stop
        while s < e && Self.isSpace(base[s]) { s += 1 }
        while e > s && Self.isSpace(base[e - 1]) { e -= 1 }
        return Self.string(UnsafeBufferPointer(start: base + s, count: e - s))
    }

    /// The bytes as a String, nil if not UTF-8. ASCII (nearly every index value) skips the
    /// generic validating initializer, whose unspecialized metadata lookups cost ~15% of an
    /// index parse.
    @inline(__always) static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var p = 0
        let n = bytes.count
        // Eight bytes at a time: any high bit means non-ASCII.
        if let start = bytes.baseAddress {
            let raw = UnsafeRawPointer(start)
            while p + 8 <= n {
                if raw.loadUnaligned(fromByteOffset: p, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                    return String(validating: bytes, as: UTF8.self)
                }
                p += 8
            }
        }
        while p < n {
            if bytes[p] >= 0x80 { return String(validating: bytes, as: UTF8.self) }
            p += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func decodeValue(_ raw: UnsafeRawBufferPointer, _ start: Int, _ stop: Int, multiline: Bool) -> String? {
        let scanner = ControlScanner(raw)
        return scanner.value(start, stop, multiline: multiline)
    }

    /// The value at `start..<stop` as `ControlField.value(in:)` defines it; nil if not UTF-8.
    func value(_ start: Int, _ stop: Int, multiline: Bool) -> String? {
        if !multiline { return trimmedString(start, stop) }
        var out: [UInt8] = []
        out.reserveCapacity(stop - start)
        var p = start
        var first = true
        var lines = 0
        while p <= stop {
            let le = p < stop ? (memchr(base + p, 0x0A, stop - p).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? stop) : stop
            // Continuation lines start after a newline; only they can be comments.
            let isComment = !first && p < le && base[p] == 0x23
            if !isComment {
                var s = p, e = le
                while s < e && Self.isSpace(base[s]) { s += 1 }
                while e > s && Self.isSpace(base[e - 1]) { e -= 1 }
                if !(first && s == e) {
                    if lines > 0 { out.append(0x0A) }
                    lines += 1
                    out.append(contentsOf: UnsafeBufferPointer(start: base + s, count: e - s))
                }
            }
            first = false
            if le >= stop { break }
            p = le + 1
        }
        return out.withUnsafeBufferPointer { Self.string($0) }
    }
}

import StrataModel

/// A parsed `Release` file (or the signed text of an `InRelease` file): which suite it
/// describes and the sha256 of every index it lists.
///
/// Guarantees: immutable; every `sha256` entry has a well-formed digest, a size and a
/// relative path; `dateSeconds`/`validUntilSeconds` are set exactly when the matching text
/// field is present, and parsing fails if such a field is not an RFC 2822 date.
/// Nothing here checks a signature: `InRelease` must have been verified with `gpgv`
/// before its text is trusted.
public struct ReleaseFile: Sendable, Hashable {
    /// One line of the `SHA256:` list.
    public struct Entry: Sendable, Hashable {
        /// Relative to the release's directory: `main/binary-amd64/Packages.xz`.
        public var path: String
        public var size: Int
        public var sha256: Digest
    }

    public var origin: String?
    public var label: String?
    public var suite: String?
    public var version: String?
    public var codename: String?
    /// `Date` as written.
    public var date: String?
    /// `Date` in seconds since the Unix epoch.
    public var dateSeconds: Int64?
    /// `Valid-Until` as written.
    public var validUntil: String?
    /// `Valid-Until` in seconds since the Unix epoch.
    public var validUntilSeconds: Int64?
    public var architectures: [String]
    public var components: [String]
    /// `Acquire-By-Hash: yes`: indexes are also at `…/by-hash/SHA256/<hex>`.
    public var acquireByHash: Bool
    /// The `SHA256:` list in file order.
    public var sha256: [Entry]

    /// Parses a `Release` file (no signature armor).
    public init(parsing bytes: [UInt8]) throws(ControlFileError) {
        let paragraphs = try ControlFile.parse(bytes)
        guard let p = paragraphs.first else { throw .missingField("Suite", package: nil, line: 1) }
        if paragraphs.count > 1 {
            throw .unexpectedParagraph(line: paragraphs[1].line)
        }
        func text(_ name: String) throws(ControlFileError) -> String? { try p.value(name) }
        func words(_ name: String) throws(ControlFileError) -> [String] {
            (try text(name) ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        }
        func seconds(_ name: String, _ value: String?) throws(ControlFileError) -> Int64? {
            guard let value else { return nil }
            guard let s = RFC2822.seconds(value) else {
                throw .invalidValue(field: name, value: value, package: nil, line: p.field(name)?.line ?? p.line)
            }
            return s
        }
        origin = try text("Origin")
        label = try text("Label")
        suite = try text("Suite")
        version = try text("Version")
        codename = try text("Codename")
        // A release must say which suite it is, or a lockfile could not name it.
        if suite == nil && codename == nil { throw .missingField("Suite", package: nil, line: p.line) }
        date = try text("Date")
        dateSeconds = try seconds("Date", date)
        validUntil = try text("Valid-Until")
        validUntilSeconds = try seconds("Valid-Until", validUntil)
        architectures = try words("Architectures")
        components = try words("Components")
        if let value = try text("Acquire-By-Hash") {
            switch value.lowercased() {
            case "yes": acquireByHash = true
            case "no": acquireByHash = false
            default:
                throw .invalidValue(field: "Acquire-By-Hash", value: value, package: nil, line: p.field("Acquire-By-Hash")?.line ?? p.line)
            }
        } else {
            acquireByHash = false
        }
        sha256 = []
        if let field = p.field("SHA256") {
            let lines = try field.lines(in: p)
            // The list starts on the line after `SHA256:` unless a value sits on that line
            // (numbers are approximate only when comment lines interleave the list).
            let firstLine = p.firstLineIsEmpty(field) ? field.line + 1 : field.line
            for (i, line) in lines.enumerated() {
                let lineNumber = firstLine + i
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count == 3, let size = PackageIndex.decimal(String(parts[1])), Self.isRelativePath(parts[2]) else {
                    throw .invalidValue(field: "SHA256", value: line, package: nil, line: lineNumber)
                }
                let digest: Digest
                do { digest = try Digest(hex: String(parts[0])) } catch {
                    throw .invalidValue(field: "SHA256", value: line, package: nil, line: lineNumber)
                }
                sha256.append(Entry(path: String(parts[2]), size: size, sha256: digest))
            }
        }
    }

    /// Parses an `InRelease` file: strips the clear-signature armor (see `signedText`)
    /// and parses the signed text. The signature itself must be checked with `gpgv`.
    public init(parsingInRelease bytes: [UInt8]) throws(ControlFileError) {
        try self.init(parsing: try Self.signedText(ofInRelease: bytes))
    }

    /// The entry for `path` (`main/binary-amd64/Packages.xz`), if listed.
    /// Seconds since the epoch of a date as Release files write it, or nil.
    public static func seconds(_ date: String) -> Int64? { RFC2822.seconds(date) }

    public func entry(for path: String) -> Entry? { sha256.first { $0.path == path } }

    /// Whether the release has expired at `now` (seconds since the epoch); never without `Valid-Until`.
    public func isExpired(at now: Int64) -> Bool {
        guard let until = validUntilSeconds else { return false }
        return now > until
    }

    /// A path inside the release directory: not absolute, no `..` component, no empty one.
    static func isRelativePath(_ path: Substring) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != ".." && $0 != "." }
    }

    /// The signed text of an OpenPGP clear-signed message (RFC 4880 §7), as gpgv checks it:
    /// the lines between the armor header's blank line and `-----BEGIN PGP SIGNATURE-----`,
    /// dash-escaping undone, each ending in `\n`.
    ///
    /// Strict on purpose, because the text parsed must be exactly the text gpgv verified:
    /// only blank lines may surround the message, only `Hash:` armor headers are
    /// accepted, a second signed message or any text after the signature is refused.
    public static func signedText(ofInRelease bytes: [UInt8]) throws(ControlFileError) -> [UInt8] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for i in bytes.indices where bytes[i] == 0x0A {
            lines.append(bytes[start..<i])
            start = i + 1
        }
        if start < bytes.count { lines.append(bytes[start...]) }
        func trimmedCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var l = line
            while let last = l.last, last == 0x0D || last == 0x20 || last == 0x09 { l = l.dropLast() }
            return l
        }
        func isBlank(_ line: ArraySlice<UInt8>) -> Bool { trimmedCR(line).isEmpty }
        func equals(_ line: ArraySlice<UInt8>, _ text: String) -> Bool { trimmedCR(line).elementsEqual(text.utf8) }

        var i = 0
        while i < lines.count && isBlank(lines[i]) { i += 1 }
        guard i < lines.count, equals(lines[i], "-----BEGIN PGP SIGNED MESSAGE-----") else { throw .notClearSigned }
        i += 1
        // Armor headers up to the blank line. RFC 4880 lets `Hash:` be absent; gpgv decides
        // whether the algorithm it implies is acceptable.
        while true {
            guard i < lines.count else { throw .malformedClearSignature("no blank line after the armor headers", line: i + 1) }
            let line = trimmedCR(lines[i])
            if line.isEmpty { i += 1; break }
            guard line.starts(with: "Hash: ".utf8) else {
                throw .malformedClearSignature("unexpected armor header '\(String(decoding: line, as: UTF8.self))'", line: i + 1)
            }
            i += 1
        }
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count)
        var foundSignature = false
        while i < lines.count {
            let raw = lines[i]
            let line = raw.last == 0x0D ? raw.dropLast() : raw
            if equals(line, "-----BEGIN PGP SIGNATURE-----") { foundSignature = true; i += 1; break }
            if line.starts(with: "- ".utf8) {
                text.append(contentsOf: line.dropFirst(2))
            } else if line.first == 0x2D {
                // Every line starting with '-' must be dash-escaped; anything else is armor
                // (a second BEGIN, say) and means the message is not what gpgv sees.
                throw .malformedClearSignature("unescaped line starting with '-' in the signed text", line: i + 1)
            } else {
                text.append(contentsOf: line)
            }
            text.append(0x0A)
            i += 1
        }
        // RFC 4880 §7.1 counts the line ending before the signature as armor; the text keeps
        // it anyway (as apt does) so that the result is a newline-terminated Release file.
        guard foundSignature else { throw .malformedClearSignature("no '-----BEGIN PGP SIGNATURE-----'", line: lines.count) }
        var foundEnd = false
        while i < lines.count {
            if equals(lines[i], "-----END PGP SIGNATURE-----") { foundEnd = true; i += 1; break }
            if trimmedCR(lines[i]).starts(with: "-----".utf8) {
                throw .malformedClearSignature("unexpected armor line in the signature", line: i + 1)
            }
            i += 1
        }
        guard foundEnd else { throw .malformedClearSignature("no '-----END PGP SIGNATURE-----'", line: lines.count) }
        while i < lines.count {
            guard isBlank(lines[i]) else { throw .malformedClearSignature("text after the signature", line: i + 1) }
            i += 1
        }
        return text
    }
}

/// RFC 2822 dates as Debian Release files write them (`Sat, 11 Jul 2026 10:16:37 UTC`),
/// the forms apt accepts: optional weekday, 1–2 digit day, English month abbreviation,
/// 4-digit year, `hh:mm[:ss]`, and a zone of `UTC`, `GMT`, `UT`, `Z` or `±hhmm`.
enum RFC2822 {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Seconds since the Unix epoch, or nil if `text` is not such a date.
    static func seconds(_ text: String) -> Int64? {
        var parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let first = parts.first, first.hasSuffix(",") {
            guard first.count == 4, first.dropLast().allSatisfy(\.isLetter) else { return nil }
            parts.removeFirst()
        }
        guard parts.count == 5 else { return nil }
        guard parts[0].count <= 2, let day = number(parts[0]), (1...31).contains(day) else { return nil }
        guard let monthIndex = months.firstIndex(of: parts[1].lowercased()) else { return nil }
        guard parts[2].count == 4, let year = number(parts[2]) else { return nil }
        let clock = parts[3].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 2 || clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
              let hour = number(clock[0]), let minute = number(clock[1]),
              hour < 24, minute < 60 else { return nil }
        var second: Int64 = 0
        if clock.count == 3 {
            guard let s = number(clock[2]), s <= 60 else { return nil }  // 60: a leap second
            second = s
        }
        let offset: Int64
        switch parts[4].uppercased() {
        case "UTC", "GMT", "UT", "Z": offset = 0
        default:
            let zone = Array(parts[4].utf8)
            guard zone.count == 5, zone[0] == 0x2B || zone[0] == 0x2D,
                  let hh = number(String(decoding: zone[1...2], as: UTF8.self)),
                  let mm = number(String(decoding: zone[3...4], as: UTF8.self)), mm < 60 else { return nil }
            offset = (zone[0] == 0x2B ? 1 : -1) * (hh * 3600 + mm * 60)
        }
        let month = Int64(monthIndex + 1)
        guard day <= daysIn(month: month, year: year) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return days * 86_400 + hour * 3600 + minute * 60 + second - offset
    }

    private static func number<S: StringProtocol>(_ s: S) -> Int64? {
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(s)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

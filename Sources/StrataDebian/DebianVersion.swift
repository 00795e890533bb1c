/// A Debian package version, `[epoch:]upstream_version[-debian_revision]` (Debian policy 5.6.12).
///
/// Guarantees: a value only exists for text that dpkg's `parseversion` accepts without error or
/// warning (the upstream version must start with a digit, as policy requires). Values are
/// immutable and `Sendable`. The order is exactly dpkg's: epochs numerically, then upstream
/// version and revision with `verrevcmp`. Two versions dpkg considers equal are `==` and hash
/// alike even when written differently (`1.0`, `1.00`, `0:1.0` and `1.0-0` are one version);
/// `description` keeps the text as written (without surrounding blanks).
public struct DebianVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The version as written, without leading or trailing blanks.
    public private(set) var description: String
    /// The epoch; 0 when the text has none.
    public let epoch: Int
    // UTF-8 offsets into `description`: the upstream version is [upstreamStart, upstreamEnd),
    // the revision [revisionStart, end). Offsets rather than substrings keep the value small
    // (a short version is a small string: no allocation at all), which matters when an index
    // of ~60,000 packages is parsed.
    private let upstreamStart: Int32
    private let upstreamEnd: Int32
    private let revisionStart: Int32

    /// Parses `text` the way dpkg's `parseversion` does; leading and trailing blanks are ignored.
    public init(_ text: String) throws(DebianVersionError) {
        var string = text
        let parsed = string.withUTF8 { bytes in
            Result { () throws(DebianVersionError) in try DebianVersion(utf8: bytes, text: text) }
        }
        self = try parsed.get()
        // Keep the caller's string when nothing was trimmed: no second copy of a long version.
        if description.utf8.count == text.utf8.count { description = text }
    }

    /// Parses `text` the way dpkg's `parseversion` does; leading and trailing blanks are ignored.
    public init(_ text: Substring) throws(DebianVersionError) {
        try self.init(String(text))
    }

    /// Builds a version from UTF-8 bytes (the relation parser's path: it has the bytes in hand);
    /// `text` is only used to name the input in an error.
    init(utf8 bytes: UnsafeBufferPointer<UInt8>, text: @autoclosure () -> String) throws(DebianVersionError) {
        let (start, end, epoch, upstreamStart, upstreamEnd, revisionStart) = try DebianVersion.parse(bytes).mapError {
            DebianVersionError(text: text(), problem: $0.problem)
        }.get()
        self.description = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        self.epoch = epoch
        self.upstreamStart = Int32(upstreamStart - start)
        self.upstreamEnd = Int32(upstreamEnd - start)
        self.revisionStart = Int32(revisionStart - start)
    }

    /// The upstream version: the text after the epoch's colon and before the last hyphen.
    public var upstreamVersion: String {
        withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[Int(upstreamStart)..<Int(upstreamEnd)]), as: UTF8.self) }
    }

    /// The Debian revision (after the last hyphen), or `nil` for a native version without one.
    public var revision: String? {
        guard revisionStart > upstreamEnd else { return nil }
        return withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[Int(revisionStart)...]), as: UTF8.self) }
    }

    // MARK: - Parsing (dpkg lib/dpkg/parsehelp.c parseversion)

    /// The problem alone: the text is attached by the caller, which knows what the user wrote.
    private struct ParseFailure: Error {
        let problem: DebianVersionError.Problem
    }

    private static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) &- 0x61 < 26 }

    /// Returns (start, end, epoch, upstreamStart, upstreamEnd, revisionStart) as offsets into
    /// `bytes`; `revisionStart == upstreamEnd` when there is no revision.
    private static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>
    ) -> Result<(Int, Int, Int, Int, Int, Int), ParseFailure> {
        func fail(_ problem: DebianVersionError.Problem) -> Result<(Int, Int, Int, Int, Int, Int), ParseFailure> {
            .failure(ParseFailure(problem: problem))
        }
        var start = 0
        var end = bytes.count
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        if start == end { return fail(.empty) }
        // One pass finds the separators: the epoch ends at the FIRST colon (later colons belong
        // to the upstream version), the revision starts after the LAST hyphen.
        var firstColon = -1
        var lastHyphen = -1
        for i in start..<end {
            let c = bytes[i]
            if c == UInt8(ascii: ":") {
                if firstColon < 0 { firstColon = i }
            } else if c == UInt8(ascii: "-") {
                lastHyphen = i
            } else if isBlank(c) {
                return fail(.embeddedBlank)
            }
        }

        var epoch = 0
        var upstreamStart = start
        if firstColon >= 0 {
            let colon = firstColon
            if colon == start { return fail(.emptyEpoch) }
            for i in start..<colon {
                // Digits only: strtol would also take a sign or leading blanks, policy does not.
                guard isDigit(bytes[i]) else { return fail(.epochNotANumber) }
                epoch = epoch * 10 + Int(bytes[i] &- 0x30)
                // dpkg keeps epochs in an int; anything larger is refused, and checking on every
                // digit keeps a long run of digits from overflowing.
                if epoch > Int(Int32.max) { return fail(.epochTooLarge) }
            }
            if colon + 1 == end { return fail(.nothingAfterColon) }
            upstreamStart = colon + 1
        }

        // A hyphen before the epoch's colon was refused above, so the last one is the upstream
        // version's; the upstream version itself may contain hyphens.
        var upstreamEnd = end
        var revisionStart = end
        if lastHyphen >= upstreamStart {
            if lastHyphen + 1 == end { return fail(.emptyRevision) }
            upstreamEnd = lastHyphen
            revisionStart = lastHyphen + 1
        }
        if upstreamStart == upstreamEnd { return fail(.emptyUpstreamVersion) }
        if !isDigit(bytes[upstreamStart]) { return fail(.upstreamVersionDoesNotStartWithDigit) }
        for i in upstreamStart..<upstreamEnd {
            let c = bytes[i]
            if isDigit(c) || isAlpha(c) { continue }
            switch c {
            case UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "~"), UInt8(ascii: "-"), UInt8(ascii: ":"): continue
            default: return fail(.invalidCharacterInUpstreamVersion(Self.character(bytes, at: i, end: upstreamEnd)))
            }
        }
        if revisionStart < end {
            for i in revisionStart..<end {
                let c = bytes[i]
                if isDigit(c) || isAlpha(c) { continue }
                switch c {
                case UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "~"): continue
                default: return fail(.invalidCharacterInRevision(Self.character(bytes, at: i, end: end)))
                }
            }
        }
        return .success((start, end, epoch, upstreamStart, upstreamEnd, revisionStart))
    }

    /// The character starting at byte `i`, for error messages (the byte may begin a multi-byte
    /// UTF-8 sequence, which is reported whole).
    private static func character(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Character {
        var j = i + 1
        while j < end, bytes[j] & 0xC0 == 0x80 { j += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<j]), as: UTF8.self).first ?? "\u{FFFD}"
    }

    // MARK: - Order (dpkg lib/dpkg/version.c)

    /// dpkg's three-way comparison: negative, zero or positive as `a` sorts before, with or after `b`.
    public static func compare(_ a: DebianVersion, _ b: DebianVersion) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        return a.withUTF8 { aBytes in
            b.withUTF8 { bBytes in
                let upstream = verrevcmp(
                    UnsafeBufferPointer(rebasing: aBytes[Int(a.upstreamStart)..<Int(a.upstreamEnd)]),
                    UnsafeBufferPointer(rebasing: bBytes[Int(b.upstreamStart)..<Int(b.upstreamEnd)]))
                if upstream != 0 { return upstream }
                return verrevcmp(
                    UnsafeBufferPointer(rebasing: aBytes[Int(a.revisionStart)...]),
                    UnsafeBufferPointer(rebasing: bBytes[Int(b.revisionStart)...]))
            }
        }
    }

    public static func < (a: DebianVersion, b: DebianVersion) -> Bool { compare(a, b) < 0 }
    public static func == (a: DebianVersion, b: DebianVersion) -> Bool { compare(a, b) == 0 }

    /// Hashes what `verrevcmp` looks at: the non-digit runs byte for byte and each digit run's
    /// value (leading zeros dropped), so versions equal by dpkg's order hash alike.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        withUTF8 { bytes in
            Self.hashPart(UnsafeBufferPointer(rebasing: bytes[Int(upstreamStart)..<Int(upstreamEnd)]), into: &hasher)
            hasher.combine(UInt8(0xFF))  // between the parts: "1-2.3" and "1.2-3" stay apart
            Self.hashPart(UnsafeBufferPointer(rebasing: bytes[Int(revisionStart)...]), into: &hasher)
        }
    }

    private static func hashPart(_ s: UnsafeBufferPointer<UInt8>, into hasher: inout Hasher) {
        // verrevcmp sees a part as pairs (non-digit run, digit run), where a missing or all-zero
        // digit run is the number 0 and a missing part is the pair ("", 0). Hashing every pair's
        // digit run, even an absent one, makes "1.0." and "1.0.0" (equal) hash alike.
        var i = 0
        repeat {
            while i < s.count, !isDigit(s[i]) { hasher.combine(s[i]); i += 1 }
            while i < s.count, s[i] == UInt8(ascii: "0") { i += 1 }
            hasher.combine(UInt8(0xFE))  // delimits the digit run: "a1.2" vs "a12."
            while i < s.count, isDigit(s[i]) { hasher.combine(s[i]); i += 1 }
            hasher.combine(UInt8(0xFD))
        } while i < s.count
    }

    private func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        // Native and small strings (every parsed version) have contiguous UTF-8; the copy is only
        // a fallback for bridged strings, which cannot occur without Foundation.
        if let result = description.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(description.utf8).withUnsafeBufferPointer(body)
    }

    /// dpkg's `order`: where a character of a non-digit run sorts. `~` before everything, even
    /// the end of the run; letters before every other character.
    @inline(__always)
    private static func order(_ c: UInt8) -> Int {
        if isAlpha(c) { return Int(c) }
        if c == UInt8(ascii: "~") { return -1 }
        return Int(c) + 256
    }

    /// dpkg's `verrevcmp` over byte ranges. Digit runs are compared by length after leading
    /// zeros, then by their first differing digit, so runs of any length never overflow.
    static func verrevcmp(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var i = 0
        var j = 0
        let n = a.count
        let m = b.count
        while i < n || j < m {
            // The end of the string and a digit both sort as 0 against a non-digit.
            while (i < n && !isDigit(a[i])) || (j < m && !isDigit(b[j])) {
                let ac = i < n && !isDigit(a[i]) ? order(a[i]) : 0
                let bc = j < m && !isDigit(b[j]) ? order(b[j]) : 0
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1
                j += 1
            }
            while i < n, a[i] == UInt8(ascii: "0") { i += 1 }
            while j < m, b[j] == UInt8(ascii: "0") { j += 1 }
            var firstDifference = 0
            while i < n, j < m, isDigit(a[i]), isDigit(b[j]) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if i < n, isDigit(a[i]) { return 1 }
            if j < m, isDigit(b[j]) { return -1 }
            if firstDifference != 0 { return firstDifference < 0 ? -1 : 1 }
        }
        return 0
    }
}

/// A text that is not a valid Debian version, and why (dpkg's own wording where it has one).
public struct DebianVersionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the text.
    public enum Problem: Sendable, Hashable {
        case empty
        case embeddedBlank
        case emptyEpoch
        case epochNotANumber
        case epochTooLarge
        case nothingAfterColon
        case emptyUpstreamVersion
        case emptyRevision
        case upstreamVersionDoesNotStartWithDigit
        case invalidCharacterInUpstreamVersion(Character)
        case invalidCharacterInRevision(Character)
    }

    /// The text as it was given.
    public let text: String
    public let problem: Problem

    public init(text: String, problem: Problem) {
        self.text = text
        self.problem = problem
    }

    public var description: String {
        let why: String
        switch problem {
        case .empty: why = "the version is empty"
        case .embeddedBlank: why = "the version contains a blank"
        case .emptyEpoch: why = "the epoch before ':' is empty"
        case .epochNotANumber: why = "the epoch before ':' is not a number"
        case .epochTooLarge: why = "the epoch is larger than \(Int32.max)"
        case .nothingAfterColon: why = "nothing follows the epoch's ':'"
        case .emptyUpstreamVersion: why = "the upstream version is empty"
        case .emptyRevision: why = "the revision after the last '-' is empty"
        case .upstreamVersionDoesNotStartWithDigit: why = "the upstream version does not start with a digit"
        case .invalidCharacterInUpstreamVersion(let c):
            why = "'\(c)' is not allowed in an upstream version (only letters, digits and . + ~ - :)"
        case .invalidCharacterInRevision(let c):
            why = "'\(c)' is not allowed in a Debian revision (only letters, digits and . + ~)"
        }
        return "invalid Debian version \"\(text)\": \(why)"
    }
}

/// RFC 8259 number grammar for one number token whose start json-c's tokenizer
/// located. json-c 0.16 accepts `NaN`, `Infinity`, `1.`, `-.5`, `00` and `-01`
/// even with `JSON_TOKENER_STRICT`, and clamps integers beyond 64 bits, so the
/// token's text is checked and converted here.
enum JSONNumber {
    /// The bytes a number token can span (json-c's own number alphabet).
    @inline(__always)
    static func isNumberByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2B || b == 0x2E || b == 0x65 || b == 0x45
    }

    /// Length of the run of number bytes starting at `start`.
    static func tokenLength(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var end = start
        while end < bytes.count, isNumberByte(bytes[end]) { end += 1 }
        return end - start
    }

    enum Kind { case integer, real }

    /// The token's kind, or `nil` when it is not a JSON number.
    static func validate(_ t: UnsafeBufferPointer<UInt8>) -> Kind? {
        var i = 0
        let n = t.count
        func digit(_ k: Int) -> Bool { k < n && t[k] >= 0x30 && t[k] <= 0x39 }
        if i < n, t[i] == 0x2D { i += 1 }
        guard digit(i) else { return nil }
        if t[i] == 0x30 {
            i += 1
        } else {
            while digit(i) { i += 1 }
        }
        var kind = Kind.integer
        if i < n, t[i] == 0x2E {
            i += 1
            guard digit(i) else { return nil }
            while digit(i) { i += 1 }
            kind = .real
        }
        if i < n, t[i] == 0x65 || t[i] == 0x45 {
            i += 1
            if i < n, t[i] == 0x2B || t[i] == 0x2D { i += 1 }
            guard digit(i) else { return nil }
            while digit(i) { i += 1 }
            kind = .real
        }
        return i == n ? kind : nil
    }

    enum Problem: Error { case invalid, outOfRange }

    /// The value of a number token: `.int` when it is an integer that fits
    /// Int64, `.double` otherwise.
    static func value(_ t: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, Problem> {
        guard let kind = validate(t) else { return .failure(.invalid) }
        let text = String(decoding: t, as: UTF8.self)
        if kind == .integer, let i = Int64(text) { return .success(.int(i)) }
        guard let d = Double(text), d.isFinite else { return .failure(.outOfRange) }
        return .success(.double(d))
    }
}

/// Turns byte offsets into 1-based line:column (column counts bytes). Cheap for
/// increasing offsets, which is how the parser asks.
struct LineCounter {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var scanned = 0
    private var line = 1
    private var lineStart = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func location(of offset: Int) -> SourceLocation {
        let target = min(max(offset, 0), bytes.count)
        if target < scanned { scanned = 0; line = 1; lineStart = 0 }
        while scanned < target {
            if bytes[scanned] == 0x0A { line += 1; lineStart = scanned + 1 }
            scanned += 1
        }
        return SourceLocation(line: line, column: target - lineStart + 1)
    }
}

import CJSON

/// Entry points for reading and writing JSON through json-c.
///
/// Parsing is strict RFC 8259: no comments, trailing commas, single quotes,
/// NaN/Infinity, leading zeros, raw control characters in strings, duplicate
/// keys, or anything but whitespace after the document. Input must be UTF-8.
/// All functions are pure and safe to call from any thread.
public enum JSON {
    /// Parses strict JSON (json-c's `JSON_TOKENER_STRICT`), refusing duplicate keys.
    /// Fast path for lockfiles and OCI documents: no locations are kept.
    /// Errors carry the same locations as `parseLocated`.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try checkSize(bytes)
        let fast: JSONValue? = bytes.withUnsafeBufferPointer { buf in
            guard let parser = FastParser(buf) else { return nil }
            return try? parser.run()
        }
        if let fast { return fast }
        // Something needs a closer look (or the document is invalid): the
        // located parser either accepts it or says exactly where it is wrong.
        return try parseLocated(bytes).value
    }

    /// Convenience for text already in memory (tests, small documents).
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses strict JSON and records where every value starts, for error
    /// messages of the form `FILE:LINE:COL: path: problem`.
    public static func parseLocated(_ bytes: [UInt8]) throws(JSONError) -> LocatedJSON {
        try checkSize(bytes)
        return try bytes.withUnsafeBufferPointer { (buf) throws(JSONError) -> LocatedJSON in
            var parser = try LocatedParser(buf)
            return try parser.run()
        }
    }

    public static func parseLocated(_ text: String) throws(JSONError) -> LocatedJSON {
        try parseLocated(Array(text.utf8))
    }

    /// Canonical form: keys sorted bytewise, two-space indent, `": "` between key
    /// and value, no escaping of `/`, and a final newline. Equal values always
    /// give identical bytes.
    ///
    /// This is byte-for-byte Python's `json.dumps(v, indent=2, sort_keys=True,
    /// ensure_ascii=False) + "\n"`; doubles are written in their shortest
    /// round-trip form (as Python's `repr`). NaN and infinities, which JSON
    /// cannot represent, are written as `null`. Object keys cannot hold U+0000
    /// (json-c keys are C strings: such a key is cut there; `parse` refuses them).
    public static func canonicalBytes(_ value: JSONValue) -> [UInt8] {
        var out = JSONWriter.serialize(
            value, flags: JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)
        out.append(0x0A)
        return out
    }

    /// Compact form (no whitespace, keys sorted): for digests of JSON documents
    /// such as OCI configs and manifests.
    public static func compactBytes(_ value: JSONValue) -> [UInt8] {
        JSONWriter.serialize(value, flags: JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
    }

    /// json-c takes lengths as `int`.
    private static func checkSize(_ bytes: [UInt8]) throws(JSONError) {
        if bytes.count >= Int(Int32.max) {
            throw .unsupported(SourceLocation(line: 1, column: 1), "document larger than 2 GiB")
        }
    }
}

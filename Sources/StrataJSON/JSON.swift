import CJSON

/// Entry points for reading and writing JSON through json-c.
public enum JSON {
    /// Parses strict JSON (json-c's `JSON_TOKENER_STRICT`), refusing duplicate keys.
    /// Fast path for lockfiles and OCI documents: no locations are kept.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        throw .unsupported(SourceLocation(line: 1, column: 1), "not implemented")
    }

    /// Parses strict JSON and records where every value starts, for error
    /// messages of the form `FILE:LINE:COL: path: problem`.
    public static func parseLocated(_ bytes: [UInt8]) throws(JSONError) -> LocatedJSON {
        throw .unsupported(SourceLocation(line: 1, column: 1), "not implemented")
    }

    /// Canonical form: keys sorted bytewise, two-space indent, `": "` between key
    /// and value, no escaping of `/`, and a final newline. Equal values always
    /// give identical bytes.
    public static func canonicalBytes(_ value: JSONValue) -> [UInt8] {
        []
    }

    /// Compact form (no whitespace, keys sorted): for digests of JSON documents
    /// such as OCI configs and manifests.
    public static func compactBytes(_ value: JSONValue) -> [UInt8] {
        []
    }
}

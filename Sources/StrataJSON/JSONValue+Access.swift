/// Typed views of a `JSONValue` for decoders: each returns `nil` when the value
/// has another type, so a decoder can report `typeName` in its error instead.
extension JSONValue {
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// Only values written as integers: `1.0` is a double and gives `nil`.
    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// Any number, integers included (converted, possibly rounded, to `Double`).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    public var isNull: Bool { self == .null }

    /// The member `key` of an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// JSON's own type names, for messages like "expected string, found number".
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONError: CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation {
        switch self {
        case .syntax(let loc, _), .unsupported(let loc, _), .duplicateKey(_, _, let loc): return loc
        }
    }

    /// `LINE:COL: problem`, ready to be prefixed with a file name.
    public var description: String {
        switch self {
        case .syntax(let loc, let reason):
            return "\(loc): invalid JSON: \(reason)"
        case .duplicateKey(let path, let key, let loc):
            return "\(loc): \(path): duplicate key \"\(key)\""
        case .unsupported(let loc, let reason):
            return "\(loc): unsupported JSON: \(reason)"
        }
    }
}

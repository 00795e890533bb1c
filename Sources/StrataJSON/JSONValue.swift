/// A parsed JSON document as plain Swift values. Numbers keep whether they
/// were written as integers so that lockfiles round-trip exactly.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Keys are unique (duplicates are a parse error); order is not significant.
    case object([String: JSONValue])
}

/// One step of a path into a JSON document.
public enum JSONPathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)
}

/// Where a value sits in a document, e.g. `steps[1].copy.to`.
/// The root path is rendered as `$`.
public struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    public var components: [JSONPathComponent]
    public init(_ components: [JSONPathComponent] = []) { self.components = components }
    public static let root = JSONPath()
    public func appending(_ key: String) -> JSONPath { JSONPath(components + [.key(key)]) }
    public func appending(_ index: Int) -> JSONPath { JSONPath(components + [.index(index)]) }

    public var description: String {
        if components.isEmpty { return "$" }
        var out = ""
        for component in components {
            switch component {
            case .key(let key):
                if !out.isEmpty { out += "." }
                out += key
            case .index(let index):
                out += "[\(index)]"
            }
        }
        return out
    }
}

/// A 1-based line and column in the source text (column counts bytes).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// A document parsed together with the location where every value starts.
public struct LocatedJSON: Sendable {
    public var value: JSONValue
    /// The start of every value in the document, by path (the root included).
    public var locations: [JSONPath: SourceLocation]
    public init(value: JSONValue, locations: [JSONPath: SourceLocation]) {
        self.value = value; self.locations = locations
    }
    /// The location of `path`, or of its nearest ancestor that has one.
    public func location(of path: JSONPath) -> SourceLocation {
        var p = path
        while true {
            if let loc = locations[p] { return loc }
            if p.components.isEmpty { return SourceLocation(line: 1, column: 1) }
            p.components.removeLast()
        }
    }
}

/// Why bytes were not accepted as JSON.
public enum JSONError: Error, Equatable, Sendable {
    /// Not strict JSON (RFC 8259): where parsing stopped and json-c's reason.
    case syntax(SourceLocation, String)
    /// The same key twice in one object; the location is the second key's.
    case duplicateKey(JSONPath, String, SourceLocation)
    /// Valid JSON that is not UTF-8, or a number outside what we represent.
    case unsupported(SourceLocation, String)
}

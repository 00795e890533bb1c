import StrataJSON

/// A manifest that cannot be used, with where and why.
///
/// Renders as one line: `FILE:LINE:COL: JSON.path: what is wrong (what was expected)`.
public struct ManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var location: SourceLocation
    public var path: JSONPath
    public var problem: String
    public var expected: String?

    public init(file: String, location: SourceLocation, path: JSONPath, problem: String, expected: String? = nil) {
        self.file = file; self.location = location; self.path = path; self.problem = problem; self.expected = expected
    }

    public var description: String {
        "\(file):\(location.line):\(location.column): \(path): \(problem)" + (expected.map { " (\($0))" } ?? "")
    }
}

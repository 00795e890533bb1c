import StrataModel

/// A command's environment as strata builds it: the base image's `Env`, the manifest's
/// `env` over it (a variable keeps its place when overridden, as Docker does), and `PATH`
/// when neither sets one. Sessions add their own (`HOME`, `HOSTNAME`…); commits store
/// exactly this in the image config.
public struct EnvironmentVariables: Sendable {
    /// The `PATH` a command gets when neither the image nor the manifest sets one (Docker's).
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    private(set) var pairs: [(String, String)] = []

    public init(image: [String], manifest: [String: String]) {
        for entry in image {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            set(String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
        for key in manifest.keys.sorted() { set(key, manifest[key] ?? "") }
        if !has("PATH") { set("PATH", Self.defaultPath) }
    }

    public func has(_ key: String) -> Bool { pairs.contains { $0.0 == key } }

    public func value(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }

    /// `KEY=VALUE` strings as they are (a session's environment), without adding `PATH`.
    public init(entries: [String]) {
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            set(String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
    }

    public mutating func set(_ key: String, _ value: String) {
        if let index = pairs.firstIndex(where: { $0.0 == key }) { pairs[index].1 = value } else { pairs.append((key, value)) }
    }

    /// `KEY=VALUE` strings, in order.
    public var entries: [String] { pairs.map { "\($0.0)=\($0.1)" } }
}

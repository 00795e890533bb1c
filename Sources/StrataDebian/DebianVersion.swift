/// A Debian package version (`[epoch:]upstream[-revision]`), ordered exactly as dpkg orders them.
public struct DebianVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var description: String { "" }
    public static func < (a: DebianVersion, b: DebianVersion) -> Bool { false }
}

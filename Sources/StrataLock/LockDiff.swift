import Glibc
import StrataOS
import StrataDebian
import StrataEnvironment
import StrataModel

/// What changed in the Debian packages between two lockfiles, as `strata lock diff` prints it.
public struct LockDiff: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        public var name: String
        public var old: String?
        public var new: String?
    }

    public var added: [Change] = []
    public var removed: [Change] = []
    public var upgraded: [Change] = []
    public var downgraded: [Change] = []
    /// Set when the release the packages were resolved against differs (`old date → new date`).
    public var release: String?

    public init(old: Lockfile, new: Lockfile) {
        let before = Self.packages(old)
        let after = Self.packages(new)
        for key in Set(before.keys).union(after.keys).sorted() {
            switch (before[key], after[key]) {
            case (nil, let version?): added.append(Change(name: key, old: nil, new: version))
            case (let version?, nil): removed.append(Change(name: key, old: version, new: nil))
            case (let a?, let b?) where a != b:
                let newer: Bool
                if let x = try? DebianVersion(a), let y = try? DebianVersion(b) { newer = y > x } else { newer = b > a }
                let change = Change(name: key, old: a, new: b)
                if newer { upgraded.append(change) } else { downgraded.append(change) }
            default: break
            }
        }
        if case .debian(let a) = old.base, case .debian(let b) = new.base, a.inRelease != b.inRelease {
            release = "\(a.codename) \(a.date) → \(b.codename) \(b.date)"
        }
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && upgraded.isEmpty && downgraded.isEmpty }

    /// One line per change, grouped as apt reports them.
    public var lines: [String] {
        var out: [String] = []
        if let release { out.append("release     \(release)") }
        out += added.map { "added       \($0.name) \($0.new!)" }
        out += removed.map { "removed     \($0.name) \($0.old!)" }
        out += upgraded.map { "upgraded    \($0.name) \($0.old!) → \($0.new!)" }
        out += downgraded.map { "downgraded  \($0.name) \($0.old!) → \($0.new!)" }
        return out
    }

    /// `name` (or `name:arch` for a foreign architecture) → version.
    static func packages(_ lockfile: Lockfile) -> [String: String] {
        guard case .debian(let debian) = lockfile.base else { return [:] }
        var map: [String: String] = [:]
        for package in debian.packages {
            let native = package.architecture == debian.architecture || package.architecture == "all"
            map[native ? package.name : "\(package.name):\(package.architecture)"] = package.version
        }
        return map
    }
}

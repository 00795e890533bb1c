import Glibc
import StrataOS
import StrataDebian
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

/// A lockfile named on the command line: a path, or a git revision of one.
public enum LockfileSource {
    /// `argument` is a file, `REV:PATH`, or (given `relativeTo`, a path) a bare revision of that path.
    public static func read(_ argument: String, relativeTo other: String?, environment: [String: String] = [:]) throws(StrataError) -> (path: String, lockfile: Lockfile) {
        if access(argument, F_OK) == 0 {
            let bytes: [UInt8]
            do { bytes = try HostFile.read(argument, limit: 64 << 20) } catch {
                throw .input(path: argument, reason: "cannot read the lockfile: \(error.reason)")
            }
            do { return (argument, try Lockfile.decode(bytes, file: argument)) } catch { throw .lockfile(error) }
        }
        var revision = argument
        var path: String
        if let colon = argument.firstIndex(of: ":") {
            revision = String(argument[..<colon])
            path = String(argument[argument.index(after: colon)...])
        } else if let other {
            path = other
        } else {
            throw .usage("\(argument) is neither a lockfile nor REV:PATH")
        }
        if !path.hasPrefix("/") && !path.hasPrefix("./") { path = "./" + path }
        let name = "\(revision):\(path)"
        let bytes: [UInt8]
        do { bytes = try GitShow.read(name, environment: environment) } catch {
            throw .usage("cannot read \(name) from git (\(error)); give a lockfile path, REV:PATH or a revision")
        }
        do { return (name, try Lockfile.decode(bytes, file: name)) } catch { throw .lockfile(error) }
    }
}

/// `git show REV:PATH`, run without a shell.
enum GitShow {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func read(_ object: String, environment: [String: String]) throws(Failure) -> [UInt8] {
        guard let git = Subprocess.locate("git", searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw Failure(description: "git is not installed")
        }
        // git reads its configuration from HOME (safe.directory, for one).
        var process = Subprocess(executable: git, arguments: ["show", object],
                                 environment: ["PATH", "HOME"].compactMap { key in environment[key].map { "\(key)=\($0)" } })
        process.standardError = .null
        let outcome: Subprocess.Outcome
        do { outcome = try process.run() } catch { throw Failure(description: "cannot run git: \(error.reason)") }
        guard outcome.succeeded else { throw Failure(description: "git show \(object) failed") }
        return outcome.standardOutput
    }
}

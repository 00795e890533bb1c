import Glibc
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
    public static func read(_ argument: String, relativeTo other: String?) throws(StrataError) -> (path: String, lockfile: Lockfile) {
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
        do { bytes = try GitShow.read(name) } catch {
            throw .usage("cannot read \(name) from git (\(error)); give a lockfile path, REV:PATH or a revision")
        }
        do { return (name, try Lockfile.decode(bytes, file: name)) } catch { throw .lockfile(error) }
    }
}

/// `git show REV:PATH`, run without a shell.
enum GitShow {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func read(_ object: String) throws(Failure) -> [UInt8] {
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ["git", "show", object]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, "git", &actions, nil, &cArgs, environ)
        close(pipe[1])
        guard spawned == 0 else {
            close(pipe[0])
            throw Failure(description: "cannot run git: \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(pipe[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(pipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw Failure(description: "git show \(object) failed") }
        return output
    }
}

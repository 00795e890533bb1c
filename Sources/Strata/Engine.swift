import Glibc
import StrataFetchClient
import StrataModel
import StrataOS
import StrataStore

/// The operations behind strata's commands, on one store.
///
/// The CLI parses arguments and prints; everything a test would want to call is here.
public struct Engine: Sendable {
    public let store: Store
    /// Refuse a missing or stale lockfile instead of re-locking (`--frozen`, default when `CI=true`).
    public var frozen: Bool
    /// Where notes for the user go (stderr in the CLI).
    public var note: @Sendable (String) -> Void
    /// Debian mirrors given on the command line (`--mirror`), before every other source of them.
    public var mirrors: [String]?
    /// The `strata-fetch` executable downloads run in.
    public var fetchTool = FetchClient.toolBesideThisExecutable()

    public init(store: Store, frozen: Bool, note: @escaping @Sendable (String) -> Void) {
        self.store = store; self.frozen = frozen; self.note = note
    }

    /// What `strata lock` did.
    public enum LockOutcome: Sendable, Equatable { case unchanged, written }

    /// Resolves the environment and writes its lockfile if the bytes differ. Debian
    /// packages keep their locked versions unless `update` says which to move.
    public func lock(_ environment: LoadedEnvironment, update: DebianUpdate? = nil) throws(StrataError) -> (Lockfile, LockOutcome) {
        let previous = try? readLockfile(environment.paths.lockfile)
        let fresh = try locker(environment, previous: previous ?? nil, update: update).lock(environment)
        return (fresh, try write(fresh, to: environment.paths.lockfile))
    }

    func locker(_ environment: LoadedEnvironment, previous: Lockfile?, update: DebianUpdate? = nil) -> Locker {
        Locker(store: store, mirrorOverride: mirrors, fetchTool: fetchTool, previous: previous, update: update, frozen: false)
    }

    func write(_ lockfile: Lockfile, to path: String) throws(StrataError) -> LockOutcome {
        let bytes = lockfile.encoded()
        if let existing = try? HostFile.read(path), existing == bytes { return .unchanged }
        let directory = FileSystem.parent(of: path)
        if !HostFile.exists(directory) {
            do { try FileSystem.makeDirectories(directory, mode: 0o755) } catch { throw .input(path: directory, reason: error.reason) }
        }
        do { try HostFile.writeAtomically(bytes, to: path) } catch {
            throw .input(path: path, reason: "cannot write the lockfile: \(error.reason)")
        }
        return .written
    }

    /// Why the lockfile does not match its inputs, or nil when it does. Never asks a
    /// Debian archive: changed packages are reported, not resolved.
    public func staleness(_ environment: LoadedEnvironment) throws(StrataError) -> String? {
        do { return try assess(environment, resolving: false).reason } catch {
            if case .staleLock(_, let reason) = error { return reason }
            throw error
        }
    }

    /// The lockfile the inputs resolve to now, and why the one on disk differs (nil: it does not).
    func assess(_ environment: LoadedEnvironment, resolving: Bool = true) throws(StrataError) -> (fresh: Lockfile, reason: String?) {
        let existing: Lockfile?
        var unreadable: String?
        do { existing = try readLockfile(environment.paths.lockfile) } catch {
            // A damaged lockfile is just a stale one: re-locking (or --frozen) decides.
            guard case .lockfile(let problem) = error else { throw error }
            existing = nil
            unreadable = "it cannot be read: \(problem.path): \(problem.problem)"
        }
        var locker = locker(environment, previous: existing)
        locker.frozen = frozen || !resolving
        let fresh = try locker.lock(environment)
        guard let existing else { return (fresh, unreadable ?? "there is no lockfile yet") }
        if existing.manifestDigest != environment.manifestDigest { return (fresh, "the manifest changed since it was locked") }
        if existing.platform != fresh.platform {
            return (fresh, "it was locked for \(existing.platform), this machine is \(fresh.platform)")
        }
        return (fresh, Self.difference(existing, fresh))
    }

    /// The lockfile to use for build/run: as it is when current; re-locked (and said so)
    /// when stale, unless frozen.
    public func lockfileForUse(_ environment: LoadedEnvironment) throws(StrataError) -> Lockfile {
        let path = environment.paths.lockfile
        let (fresh, reason) = try assess(environment)
        guard let reason else { return fresh }
        if frozen { throw .staleLock(lockfile: path, reason: reason) }
        _ = try write(fresh, to: path)
        note("re-locked \(path) (\(reason))")
        return fresh
    }

    func readLockfile(_ path: String) throws(StrataError) -> Lockfile? {
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path) } catch {
            if error.errno == ENOENT { return nil }
            throw .input(path: path, reason: "cannot read the lockfile: \(error.reason)")
        }
        do { return try Lockfile.decode(bytes, file: path) } catch { throw .lockfile(error) }
    }

    /// The first way `old` differs from `new`, in words.
    static func difference(_ old: Lockfile, _ new: Lockfile) -> String? {
        if old == new { return nil }
        if old.base != new.base {
            if case .debian = new.base { return "the Debian packages changed" }
            return "the base image changed"
        }
        for (index, pair) in zip(old.layers, new.layers).enumerated() where pair.0 != pair.1 {
            switch pair.1.source {
            case .image(let reference): return "layer \(index) of \(reference) changed"
            case .copy(let from, _): return "the copied \(from) changed"
            case .tar(let path): return "the tarball \(path) changed"
            }
        }
        if old.layers.count != new.layers.count { return "the layers changed" }
        return "the lockfile is not in canonical form"
    }
}


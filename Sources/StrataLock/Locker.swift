import StrataEnvironment
import StrataModel
import StrataStore

/// What `strata lock --update` moves to the archive's current versions.
public enum DebianUpdate: Sendable, Equatable {
    case all
    case packages([String])
}

/// Manifest → lockfile: resolves an environment's inputs, writes its lockfile, and says
/// whether the lockfile on disk still matches them.
///
/// Debian packages keep their locked versions until an update moves them, and a kept
/// version that can no longer be kept is said, never dropped silently. A lockfile that
/// cannot be read is never replaced by a fresh resolution unless asked to (`--update`).
public struct Locker: Sendable {
    public let store: Store
    public let context: RequestContext
    /// Refuse a missing or stale lockfile instead of re-locking (`--frozen`, CI).
    public var frozen: Bool
    /// Debian mirrors the request names before every other source of them (`--mirror`).
    public var mirrors: [String]

    public init(store: Store, context: RequestContext, frozen: Bool = false, mirrors: [String] = []) {
        self.store = store; self.context = context; self.frozen = frozen; self.mirrors = mirrors
    }

    /// What `lock` did.
    public enum Outcome: Sendable, Equatable { case unchanged, written }

    /// Resolves the environment and writes its lockfile if the bytes differ. Debian
    /// packages keep their locked versions unless `update` says which to move. A lockfile
    /// that cannot be read stops the lock, left as it is, unless every package is to move
    /// anyway (`update: .all`).
    public func lock(_ environment: LoadedEnvironment, update: DebianUpdate? = nil) throws(StrataError) -> (Lockfile, Outcome) {
        // The environment this one extends is locked first (only if stale: its pins stay).
        if let parent = environment.parent {
            if try staleness(parent) != nil {
                _ = try lock(parent)
                context.note("locked \(parent.paths.lockfile), which \(environment.paths.name) extends")
            }
        }
        let previous: Lockfile?
        do { previous = try environment.paths.readLockfile() } catch {
            guard case .unreadableLockfile = error, update == .all else { throw error }
            previous = nil
        }
        let fresh = try resolver(previous: previous, update: update, frozen: false).resolve(environment)
        return (fresh, try environment.paths.writeLockfile(fresh) ? .written : .unchanged)
    }

    /// Why the lockfile does not match its inputs, or nil when it does. Never asks a
    /// Debian archive: changed packages are reported, not resolved.
    public func staleness(_ environment: LoadedEnvironment) throws(StrataError) -> String? {
        if let parent = environment.parent, let reason = try staleness(parent) {
            return "the lockfile of \(parent.paths.name), which it extends, is stale: \(reason)"
        }
        let existing: Lockfile?
        do { existing = try environment.paths.readLockfile() } catch {
            guard case .unreadableLockfile(let problem) = error else { throw error }
            return "it cannot be read: \(problem.path): \(problem.problem)"
        }
        do { return try assess(environment, existing: existing, resolving: false).reason } catch {
            if case .staleLock(_, let reason) = error { return reason }
            throw error
        }
    }

    /// The lockfile to build and run with: as it is when current; re-locked (and said so)
    /// when stale, unless frozen. One that cannot be read is refused, as by `lock`.
    public func lockfileForUse(_ environment: LoadedEnvironment) throws(StrataError) -> Lockfile {
        if let parent = environment.parent { _ = try lockfileForUse(parent) }
        let (fresh, reason) = try assess(environment, existing: try environment.paths.readLockfile())
        guard let reason else { return fresh }
        let path = environment.paths.lockfile
        if frozen { throw .staleLock(lockfile: path, reason: reason) }
        _ = try environment.paths.writeLockfile(fresh)
        context.note("re-locked \(path) (\(reason))")
        return fresh
    }

    /// The lockfile the inputs resolve to now, and why `existing` differs (nil: it does not).
    func assess(_ environment: LoadedEnvironment, existing: Lockfile?, resolving: Bool = true) throws(StrataError) -> (fresh: Lockfile, reason: String?) {
        let fresh = try resolver(previous: existing, update: nil, frozen: frozen || !resolving).resolve(environment)
        guard let existing else { return (fresh, "there is no lockfile yet") }
        if existing.platform != fresh.platform {
            return (fresh, "it was locked for \(existing.platform), this machine is \(fresh.platform)")
        }
        if existing.manifestDigest != environment.manifestDigest {
            // The step that changed says more than "the manifest changed", when one did.
            return (fresh, Self.changedRunStep(existing, fresh) ?? "the manifest changed since it was locked")
        }
        return (fresh, Self.difference(existing, fresh))
    }

    func resolver(previous: Lockfile?, update: DebianUpdate?, frozen: Bool) -> ManifestResolver {
        ManifestResolver(store: store, context: context, mirrors: mirrors, previous: previous, update: update, frozen: frozen)
    }

    /// The first `run` step whose definition differs, as `lock --check` names it, when the
    /// steps are otherwise the same.
    static func changedRunStep(_ old: Lockfile, _ new: Lockfile) -> String? {
        guard old.steps.count == new.steps.count else { return nil }
        var step = 0
        for pair in zip(old.steps, new.steps) {
            if pair.1.isManifestStep { step += 1 }
            guard pair.0 != pair.1 else { continue }
            guard case .run = pair.0, case .run = pair.1 else { return nil }
            return "step \(step) (\(pair.1.summary)) changed"
        }
        return nil
    }

    /// The first way `old` differs from `new`, in words.
    static func difference(_ old: Lockfile, _ new: Lockfile) -> String? {
        if old == new { return nil }
        if old.parent != new.parent { return "the lockfile of the environment it extends changed" }
        if old.base != new.base {
            if case .debian = new.base { return "the Debian packages changed" }
            return "the base image changed"
        }
        var step = 0
        for (index, pair) in zip(old.steps, new.steps).enumerated() {
            if pair.1.isManifestStep { step += 1 }
            guard pair.0 != pair.1 else { continue }
            switch pair.1 {
            case .layer(let layer):
                switch layer.source {
                case .image(let reference): return "layer \(index) of \(reference) changed"
                case .copy(let from, _): return "the copied \(from) changed"
                case .tar(let path): return "the tarball \(path) changed"
                }
            case .run:
                return "step \(step) (\(pair.1.summary)) changed"
            }
        }
        if old.steps.count != new.steps.count { return "the layers changed" }
        return "the lockfile is not in canonical form"
    }
}

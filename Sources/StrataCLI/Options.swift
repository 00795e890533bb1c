import ArgumentParser
import Strata
import StrataEnvironment
import StrataStore

/// The help of options several commands share, written once.
enum OptionHelp {
    // Short enough for `strata run --help`'s table, whose lines ArgumentParser does not indent.
    static let root = "The store (default: $STRATA_ROOT or /var/lib/strata)."
    static let lockfile = "Use this lockfile instead of the one beside the manifest."
    static let mirror = "A Debian mirror to try first (repeatable)."
    static let frozen = "Refuse a missing or stale lockfile (default when CI=true)."
}

/// `--root`: which store. Every command that touches the store takes it.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(OptionHelp.root, valueName: "DIR"))
    var root: String?


    /// An engine on the store for this invocation's request, holding a lease on the store's
    /// objects unless `lease` is false (gc and prune, which take gc's lock themselves; `logs`).
    func engine(_ lock: LockOptions? = nil, frozen: Bool = false, progress: ProgressMode = .auto,
                lease: Bool = true) throws(StrataError) -> Engine {
        try Invocation.engine(root: root, mirrors: lock?.mirror ?? [], frozen: frozen, progress: progress, lease: lease)
    }
}

/// The engine for this process's request.
enum Invocation {
    /// Takes plain values, not the option groups: making ArgumentParser's types is costly
    /// (on `strata run`'s path, which does not use ArgumentParser).
    static func engine(root: String?, mirrors: [String], frozen: Bool, progress: ProgressMode = .auto,
                       lease: Bool = true) throws(StrataError) -> Engine {
        var context = ProcessState.context(variables: ProcessState.variables(), progress: progress)
        let store: Store
        do { store = try Store(root: ProcessState.storeRoot(root, context: context)) } catch { throw .store(error) }
        // Every request that may touch objects holds gc off until it is done with them (or,
        // for a session, until its record is written).
        if lease {
            do { context.lease = try store.leaseObjects() } catch { throw .store(error) }
        }
        return Engine(store: store, context: context, frozen: frozen || context.variables["CI"] == "true", mirrors: mirrors)
    }
}

/// Where the lockfile is and which mirrors resolve it: for the commands that lock.
struct LockOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(OptionHelp.lockfile, valueName: "PATH"))
    var lockfile: String?

    @Option(name: .long, help: ArgumentHelp(OptionHelp.mirror, valueName: "URL"))
    var mirror: [String] = []

}

/// The options of commands that build before they act (`build`, `run`, `shell`).
struct BuildOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions
    @OptionGroup var lock: LockOptions

    @Flag(name: .long, help: ArgumentHelp(OptionHelp.frozen))
    var frozen = false

    @Option(name: .long, help: ArgumentHelp(ProgressMode.help, valueName: "MODE"))
    var progress: ProgressMode = .auto

    @Flag(name: .shortAndLong, help: "Show no progress, only failures (--progress=quiet).")
    var quiet = false

    func engine() throws(StrataError) -> Engine {
        try store.engine(lock, frozen: frozen, progress: quiet ? .quiet : progress)
    }
}

extension ProgressMode: ExpressibleByArgument {}

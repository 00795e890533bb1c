import ArgumentParser
import Strata
import StrataEnvironment
import StrataStore

/// `--root`: which store. Every command that touches the store takes it.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (default: $STRATA_ROOT, /var/lib/strata as root, else ~/.local/share/strata).", valueName: "DIR"))
    var root: String?

    /// An engine on the store for this invocation's request.
    func engine(_ lock: LockOptions? = nil, frozen: Bool = false) throws(StrataError) -> Engine {
        let variables = ProcessState.variables()
        let store: Store
        do { store = try Store(root: ProcessState.storeRoot(root, variables: variables)) } catch { throw .store(error) }
        let mirrors = lock.map(\.mirror).flatMap { $0.isEmpty ? nil : $0 }
        return Engine(store: store, context: ProcessState.context(variables: variables),
                      frozen: frozen || variables["CI"] == "true", mirrors: mirrors)
    }
}

/// Where the lockfile is and which mirrors resolve it: for the commands that lock.
struct LockOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Use this lockfile instead of the one beside the manifest.", valueName: "PATH"))
    var lockfile: String?

    @Option(name: .long, help: ArgumentHelp("A Debian mirror URL to use first (repeatable); see also $STRATA_DEBIAN_MIRROR.", valueName: "URL"))
    var mirror: [String] = []
}

/// The options of commands that build before they act (`build`, `run`, `shell`).
struct BuildOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions
    @OptionGroup var lock: LockOptions

    @Flag(name: .long, help: "Refuse a missing or stale lockfile instead of re-locking (default when CI=true).")
    var frozen = false

    func engine() throws(StrataError) -> Engine { try store.engine(lock, frozen: frozen) }
}

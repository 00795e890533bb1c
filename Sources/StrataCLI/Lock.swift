import ArgumentParser
import Strata
import StrataLock

extension StrataCommand {
    /// `strata lock ENV [--check] [--update [PKG…]]` and `strata lock diff OLD NEW`.
    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lock",
            abstract: "Pin every input of an environment in its lockfile.",
            subcommands: [Environment.self, Diff.self],
            defaultSubcommand: Environment.self)
    }
}

extension StrataCommand.Lock {
    /// Resolves a manifest into its lockfile.
    struct Environment: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "env",
            abstract: "Write or check an environment's lockfile.",
            discussion: """
            Writes lockfiles/NAME.lock.json for envs/NAME.json (or NAME.lock.json beside a manifest elsewhere). Locking unchanged inputs gives a byte-identical file. Debian packages keep their locked versions until --update moves them to what the archive has now; a kept version that can no longer be kept is said. A lockfile that cannot be read (a merge conflict) is left as it is and the lock stops, unless --update re-resolves everything.

              strata lock python-dev
              strata lock python-dev --check          # exit 1 when the lockfile is missing or stale
              strata lock python-dev --update         # re-resolve every package
              strata lock python-dev --update git     # only git and what it needs
            """)

        @OptionGroup var options: StoreOptions
        @OptionGroup var lock: LockOptions
        @Flag(name: .shortAndLong, help: "Show no download progress.")
        var quiet = false
        @Flag(name: .long, help: "Only check that the lockfile is present and current; exit 1 with the reason if not.")
        var check = false
        @Flag(name: .long, help: "Re-resolve Debian packages against the archive: all, or only the PKGs named after ENV.")
        var update = false
        @Argument(help: "The environment: NAME or a manifest path.") var env: String
        @Argument(help: "With --update: the packages to update (default: all).") var packages: [String] = []

        func validate() throws {
            if !packages.isEmpty && !update {
                throw ValidationError("packages after the environment are only for --update; did you mean `strata lock \(env) --update \(packages.joined(separator: " "))`?")
            }
            if check && update { throw ValidationError("--check and --update do not go together") }
        }

        func run() throws {
            let engine = try options.engine(lock, progress: quiet ? .quiet : .auto)
            let environment = try engine.load(env, lockfile: lock.lockfile)
            if check {
                if let reason = try engine.staleness(environment) {
                    StrataCommand.fail("\(environment.paths.lockfile) is stale: \(reason); run `strata lock \(env)`", code: 1)
                }
                print("\(environment.paths.lockfile) is up to date")
                return
            }
            let (_, outcome) = try engine.lock(environment, update: update ? (packages.isEmpty ? .all : .packages(packages)) : nil)
            print(outcome == .written ? "wrote \(environment.paths.lockfile)" : "\(environment.paths.lockfile) is up to date")
        }
    }

    /// Compares two lockfiles' Debian packages.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Show the packages added, removed, upgraded and downgraded between two lockfiles.",
            discussion: """
            OLD and NEW are lockfile paths or git revisions: REV:PATH, or a bare REV meaning NEW's path at that revision.

              strata lock diff HEAD lockfiles/python-dev.lock.json
              strata lock diff old.lock.json new.lock.json
            """)

        @Argument(help: "The older lockfile: PATH, REV:PATH or REV.") var old: String
        @Argument(help: "The newer lockfile: PATH or REV:PATH.") var new: String

        func run() throws {
            let context = ProcessState.context(variables: ProcessState.variables())
            let newer = try LockfileSource.read(new, relativeTo: nil, context: context)
            let older = try LockfileSource.read(old, relativeTo: newer.path, context: context)
            let diff = LockDiff(old: older.lockfile, new: newer.lockfile)
            if diff.isEmpty {
                print("no package changes")
                return
            }
            for line in diff.lines { print(line) }
        }
    }
}

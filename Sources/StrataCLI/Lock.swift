import ArgumentParser
import Strata

extension StrataCommand {
    /// `strata lock ENV [--check]`: resolve a manifest into its lockfile.
    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lock",
            abstract: "Pin every input of an environment in its lockfile.",
            discussion: """
            Writes lockfiles/NAME.lock.json for envs/NAME.json (or NAME.lock.json beside a manifest
            elsewhere). Locking unchanged inputs gives a byte-identical file.

              strata lock busybox
              strata lock busybox --check   # exit 1 when the lockfile is missing or stale
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Only check that the lockfile is present and current; exit 1 with the reason if not.")
        var check = false
        @Argument(help: "The environment: NAME or a manifest path.") var env: String

        func run() throws {
            let engine = try options.engine()
            let environment = try options.load(env)
            if check {
                if let reason = try engine.staleness(environment) {
                    StrataCommand.fail("\(environment.paths.lockfile) is stale: \(reason); run `strata lock \(env)`", code: 1)
                }
                print("\(environment.paths.lockfile) is up to date")
                return
            }
            let (_, outcome) = try engine.lock(environment)
            print(outcome == .written ? "wrote \(environment.paths.lockfile)" : "\(environment.paths.lockfile) is up to date")
        }
    }
}

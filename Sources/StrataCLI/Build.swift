import ArgumentParser
import Strata

extension StrataCommand {
    /// `strata build ENV`: fetch, verify and unpack what is missing; print the snapshot id.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Fetch, verify and unpack an environment's layers; print its snapshot id.",
            discussion: """
            Uses the lockfile as it is; a missing or stale one is re-locked (refused under --frozen). A second build with everything cached unpacks nothing.

              strata build busybox
            """)

        @OptionGroup var options: BuildOptions
        @Argument(help: "The environment: NAME or a manifest path.") var env: String

        func run() throws {
            let engine = try options.engine()
            let environment = try engine.load(env, lockfile: options.lock.lockfile)
            let lockfile = try engine.lockfileForUse(environment)
            let result = try engine.build(environment, lockfile: lockfile)
            for warning in result.warnings { engine.context.note(warning) }
            print(result.snapshot)
        }
    }
}

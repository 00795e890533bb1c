import ArgumentParser
import Strata
import StrataBuild

extension StrataCommand {
    /// `strata build ENV`: fetch, verify and unpack what is missing; print the snapshot id.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Fetch, verify and unpack an environment's layers; print its snapshot id.",
            discussion: """
            Uses the lockfile as it is; a missing or stale one is re-locked (refused under --frozen). A second build with everything cached unpacks nothing and runs no step: a `run` step is run again only when what it runs on or what it does changed.

              strata build busybox
              strata build app --no-cache --progress=plain
            """)

        @OptionGroup var options: BuildOptions
        @Flag(name: .long, help: "Run every `run` step again, whatever the store has for it (and record what it makes).")
        var noCache = false
        @Argument(help: "The environment: NAME or a manifest path.") var env: String

        func run() throws {
            let engine = try options.engine()
            let environment = try engine.load(env, lockfile: options.lock.lockfile)
            let lockfile = try engine.lockfileForUse(environment)
            let result = try engine.build(environment, lockfile: lockfile, options: StrataBuild.BuildOptions(noCache: noCache))
            for warning in result.warnings { engine.context.note(warning) }
            print(result.snapshot)
        }
    }
}

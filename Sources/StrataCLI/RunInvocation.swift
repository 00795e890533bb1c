import ArgumentParser
import Strata
import StrataEnvironment
import StrataSessions

/// `strata run`'s options and ENV, as the `run` command declares them.
struct RunArguments: ParsableArguments {
    @OptionGroup var build: BuildOptions
    @Flag(name: .long, help: "Keep the session after the command ends.") var keep = false
    @Option(name: .long, help: "Name the session (implies --keep).") var name: String?
    @Argument(help: "The environment: NAME or a manifest path.") var env: String
}

/// One `strata run`, however its arguments were parsed.
///
/// `strata run` is the command whose start-up latency is a product feature
/// (bench/run-true.sh). perf showed ArgumentParser spending about 2.8 ms reflecting over
/// the whole command tree before it looks at an argument: more than everything strata
/// itself does before the session starts. So `strata run … -- CMD [ARG…]` is parsed by
/// the `run` command's own type alone (`StrataCommand.Run`: one definition of its options,
/// its few properties reflected, not the tree's); anything that does not parse (help, a
/// mistake) goes to the full parser, which explains it.
struct RunInvocation {
    var arguments: RunArguments
    var argv: [String]

    init(arguments: RunArguments, argv: [String]) {
        self.arguments = arguments; self.argv = argv
    }

    /// nil unless `words` (without the program name) are a `strata run` with `--` and a
    /// command that parses.
    init?(fastPathArguments words: [String]) {
        guard words.first == "run", words.contains("--") else { return nil }
        // A failure is reported by the full parser, which runs next with the same words.
        guard let run = try? StrataCommand.Run.parse(Array(words.dropFirst())), !run.argv.isEmpty else { return nil }
        self.init(arguments: run.arguments, argv: run.argv)
    }

    /// Runs the command in a new session and returns its exit status.
    func execute() throws(StrataError) -> Int32 {
        let engine = try arguments.build.engine()
        let environment = try engine.load(arguments.env, lockfile: arguments.build.lock.lockfile)
        let lockfile = try engine.lockfileForUse(environment)
        return try engine.run(environment, lockfile: lockfile,
                              options: RunOptions(argv: argv.isEmpty ? nil : argv, keep: arguments.keep, name: arguments.name))
    }
}

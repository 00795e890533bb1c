import Strata

/// One `strata run`, however its arguments were parsed.
///
/// `strata run` is the command whose start-up latency is a product feature
/// (bench/run-true.sh). perf shows ArgumentParser spending about 2.8 ms
/// reflecting over the command tree (Mirror, protocol-conformance lookups)
/// before it looks at an argument: more than everything strata itself does
/// before the session starts. So the plain form
///
///     strata run [--root DIR] [--lockfile PATH] [--frozen] [--keep] [--name NAME] ENV -- CMD [ARG…]
///
/// is recognised directly, and every other shape (help, `--opt=value`, no `--`,
/// anything unknown or missing) goes to ArgumentParser, which stays the one
/// definition of the command line: this never rejects what it does not know.
struct RunInvocation {
    var context: CommandContext
    var env: String
    var argv: [String]
    var keep: Bool
    var name: String?

    init(context: CommandContext, env: String, argv: [String], keep: Bool, name: String?) {
        self.context = context; self.env = env; self.argv = argv; self.keep = keep; self.name = name
    }

    /// nil unless `arguments` (without the program name) are exactly the plain form above.
    init?(fastPathArguments arguments: [String]) {
        guard arguments.first == "run", let terminator = arguments.firstIndex(of: "--"),
              terminator + 1 < arguments.count else { return nil }
        var context = CommandContext(root: nil, frozen: false, lockfile: nil)
        var keep = false
        var name: String?
        var env: String?
        var index = 1
        while index < terminator {
            let word = arguments[index]
            // ArgumentParser reads options only before ENV; so does this.
            if env != nil { return nil }
            let value = index + 1 < terminator ? arguments[index + 1] : nil
            switch word {
            case "--frozen": context.frozen = true
            case "--keep": keep = true
            case "--root", "--lockfile", "--name":
                guard let value, !value.hasPrefix("-") else { return nil }
                if word == "--root" { context.root = value } else if word == "--lockfile" { context.lockfile = value } else { name = value }
                index += 1
            default:
                guard !word.hasPrefix("-") else { return nil }
                env = word
            }
            index += 1
        }
        guard let env else { return nil }
        self.init(context: context, env: env, argv: Array(arguments[(terminator + 1)...]), keep: keep, name: name)
    }

    /// Runs the command in a new session and returns its exit status.
    func execute() throws(StrataError) -> Int32 {
        let engine = try context.engine()
        let environment = try context.load(env)
        let lockfile = try engine.lockfileForUse(environment)
        return try engine.run(environment, lockfile: lockfile,
                              options: RunOptions(argv: argv.isEmpty ? nil : argv, keep: keep, name: name))
    }
}

import Strata
import StrataEnvironment
import StrataSessions

/// `strata run`'s command line, defined once: this table of options is what both the
/// parser (`parse`) and the `run` command's help (`helpText`) are made from.
///
/// `strata run` is the command whose start-up latency is a product feature
/// (bench/run-true.sh): ArgumentParser spends about 3 ms (15 million instructions, most of
/// them the Swift runtime's protocol-conformance scans, by callgrind) reflecting over a
/// command before it reads an argument, more than everything strata itself does before
/// the session starts. So `strata run` is parsed here, and ArgumentParser only shows its
/// help.
///
///     strata run [OPTION…] ENV [--] [CMD [ARG…]]
struct RunCommandLine {
    var root: String?
    var lockfile: String?
    var mirrors: [String] = []
    var frozen = false
    var progress = ProgressMode.auto
    var keep = false
    var name: String?
    /// `--rm`: remove the session when it ends, named or not.
    var remove = false
    /// `-t` asks for a terminal whatever stdin is; nil leaves it to whether stdin and stdout are one.
    var terminal: Bool?
    /// `docker run`'s everyday flags (`-e`, `-v`, `-w`, `-u`, …), for this session only.
    var flags = RunFlags()
    /// `--session` (`strata shell` only): enter this kept session.
    var session: String?
    var env = ""
    /// The command; empty runs the image's entrypoint and cmd, else the manifest's shell.
    var argv: [String] = []
    /// A `--progress` value that is not a mode.
    var badProgress: String?

    typealias Option = CommandLineOption<RunCommandLine>

    static let options: [Option] = [
        Option(name: "root", value: "DIR", help: OptionHelp.root) { $0.root = $1 },
        Option(name: "lockfile", value: "PATH", help: OptionHelp.lockfile) { $0.lockfile = $1 },
        Option(name: "mirror", value: "URL", help: OptionHelp.mirror) { $0.mirrors.append($1) },
        Option(name: "frozen", value: nil, help: OptionHelp.frozen) { line, _ in line.frozen = true },
        Option(name: "progress", value: "MODE", help: ProgressMode.help) { line, value in
            // Checked in `parse`, which can say what is wrong.
            line.progress = ProgressMode(rawValue: value) ?? .auto
            line.badProgress = ProgressMode(rawValue: value) == nil ? value : nil
        },
        Option(name: "quiet", value: nil, help: "Show no build progress, only failures (--progress=quiet).", short: "q") { line, _ in line.progress = .quiet },
        Option(name: "keep", value: nil, help: "Keep the session after the command ends.") { line, _ in line.keep = true },
        Option(name: "name", value: "NAME", help: "Name the session (implies --keep, unless --rm).") { $0.name = $1 },
        Option(name: "rm", value: nil, help: "Remove the session when it ends, even a named one (the default otherwise).") { line, _ in line.remove = true },
        Option(name: "interactive", value: nil, help: "Keep stdin open (it always is; for docker's -i).", short: "i") { _, _ in },
        Option(name: "tty", value: nil, help: "Give the command a terminal even when stdin is not one.", short: "t") { line, _ in line.terminal = true },
    ] + RunFlags.options(\RunCommandLine.flags)

    /// What the words (after `run`) ask for.
    enum Parsed {
        case run(RunCommandLine)
        /// `-h`/`--help`: ArgumentParser prints the `run` command's help.
        case help
    }

    /// Parses the words after `run` (or `shell`). A word that is not an option, before the
    /// environment, or an option after it, is a usage error that says where it goes.
    static func parse(_ words: [String], command: String = "run") throws(StrataError) -> Parsed {
        var line = RunCommandLine()
        let table = command == "shell" ? options + [
            Option(name: "session", value: "NAME", help: "Enter this kept session (a name or id) instead of a new one.") { $0.session = $1 },
        ] : options
        guard let first = try CommandLineOption.parse(words, table, into: &line, command: command) else { return .help }
        let index = first
        if command == "shell" {
            if let bad = line.badProgress { throw .usage(ProgressMode.refusal(bad)) }
            if let session = line.session {
                guard index == words.count else { throw .usage("give an environment or --session \(session), not both") }
                guard !line.keep, line.name == nil, line.flags.isEmpty else {
                    throw .usage("--session enters a kept session as it was made; --keep, --name and the session flags are for a new one")
                }
                return .run(line)
            }
            guard index < words.count else {
                throw .usage("give the environment (`strata shell ENV`) or a kept session (`strata shell --session NAME`)")
            }
            line.env = words[index]
            guard index + 1 == words.count else {
                throw .usage("strata shell takes no command (`strata run \(line.env) -- CMD` runs one); options go before the environment")
            }
            return .run(line)
        }
        guard index < words.count, words[index] != "--" else {
            throw .usage("name the environment: `strata run [OPTION…] ENV -- CMD [ARG…]`")
        }
        line.env = words[index]
        var rest = Array(words[(index + 1)...])
        if rest.first == "--" {
            rest.removeFirst()
        } else if let first = rest.first, first.hasPrefix("-"), first != "-" {
            // `run ENV --opt -- CMD` would run `--opt` as the command with the option ignored.
            let misplaced = rest.prefix { $0 != "--" }.joined(separator: " ")
            throw .usage("options go before the environment: `strata run \(misplaced) \(line.env) -- …`")
        }
        line.argv = rest
        if let bad = line.badProgress { throw .usage(ProgressMode.refusal(bad)) }
        return .run(line)
    }

    /// The options as the `run` command's help lists them.
    static var helpText: String { CommandLineOption.helpText(options) }

    /// Runs the command (the shell, with `shell`) in a new session and returns its exit status.
    func execute(shell: Bool = false) throws(StrataError) -> Int32 {
        let engine = try Invocation.engine(root: root, mirrors: mirrors, frozen: frozen, progress: progress)
        if let session { return try engine.sessions.shell(session: session) }
        var environment = try engine.load(env, lockfile: lockfile)
        // Checked before anything is locked or built: a bad flag changes nothing.
        let overlay = try flags.overlay(workingDirectory: ProcessState.workingDirectory(), lookup: ProcessState.variable)
        let lockfile = try engine.lockfileForUse(environment)
        // After the lock: the flags change this session, never what the lockfile pins.
        if let overlay { environment.manifest = environment.manifest.overriding(with: overlay) }
        var options = RunOptions(argv: argv.isEmpty ? nil : argv, keep: keep && !remove, name: name, shell: shell)
        options.remove = remove
        options.terminal = terminal
        return try engine.run(environment, lockfile: lockfile, options: options)
    }
}

/// One option of a command strata parses itself (`run`, and `build` when its words are
/// plain): `--NAME`, `--NAME VALUE`, `--NAME=VALUE`, or `-C` for a flag with a `short` letter.
struct CommandLineOption<Line>: Sendable {
    var name: String
    /// What the value is, for help ("DIR"); nil for a flag.
    var value: String?
    var help: String
    var short: Character? = nil
    var set: @Sendable (inout Line, String) -> Void

    init(name: String, value: String?, help: String, short: Character? = nil, set: @escaping @Sendable (inout Line, String) -> Void) {
        self.name = name; self.value = value; self.help = help; self.short = short; self.set = set
    }

    /// Applies the options at the start of `words` to `line`; returns the index of the first
    /// word that is not one, or nil for `-h`/`--help`.
    static func parse(_ words: [String], _ options: [CommandLineOption], into line: inout Line,
                      command: String) throws(StrataError) -> Int? {
        var index = 0
        while index < words.count {
            let word = words[index]
            if word == "-h" || word == "--help" { return nil }
            // `-t`, `-it` (flags together), `-e KEY=VALUE` and `-eKEY=VALUE`, as docker reads them.
            if word.count >= 2, word.hasPrefix("-"), !word.hasPrefix("--") {
                var letters = Substring(word.dropFirst())
                while let letter = letters.first {
                    letters = letters.dropFirst()
                    guard let option = options.first(where: { $0.short == letter }) else {
                        throw .usage("strata \(command) has no option -\(letter) (see `strata \(command) --help`)")
                    }
                    guard option.value != nil else {
                        option.set(&line, "")
                        continue
                    }
                    if !letters.isEmpty {
                        option.set(&line, String(letters.drop { $0 == "=" }))
                    } else {
                        guard index + 1 < words.count else { throw .usage("-\(letter) needs a value: -\(letter) \(option.value ?? "")") }
                        index += 1
                        option.set(&line, words[index])
                    }
                    break
                }
                index += 1
                continue
            }
            guard word.hasPrefix("--"), word != "--" else { break }
            let spelled = word.dropFirst(2)
            let key = spelled.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            guard let option = options.first(where: { $0.name == key }) else {
                throw .usage("strata \(command) has no option \(word) (see `strata \(command) --help`)")
            }
            let inline = spelled.contains("=") ? String(spelled.drop { $0 != "=" }.dropFirst()) : nil
            if option.value == nil {
                guard inline == nil else { throw .usage("--\(option.name) takes no value") }
                option.set(&line, "")
            } else if let inline {
                option.set(&line, inline)
            } else {
                guard index + 1 < words.count else { throw .usage("--\(option.name) needs a value: --\(option.name) \(option.value ?? "")") }
                index += 1
                option.set(&line, words[index])
            }
            index += 1
        }
        return index
    }

    /// The options as a command's help lists them.
    static func helpText(_ options: [CommandLineOption]) -> String {
        let rows = options.map { option in
            ((option.short.map { "-\($0), " } ?? "") + "--" + option.name + (option.value.map { " " + $0 } ?? ""), option.help)
        }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }
}

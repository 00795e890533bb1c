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
        Option(name: "quiet", value: nil, help: "Show no build progress, only failures (--progress=quiet).") { line, _ in line.progress = .quiet },
        Option(name: "keep", value: nil, help: "Keep the session after the command ends.") { line, _ in line.keep = true },
        Option(name: "name", value: "NAME", help: "Name the session (implies --keep).") { $0.name = $1 },
    ]

    /// What the words (after `run`) ask for.
    enum Parsed {
        case run(RunCommandLine)
        /// `-h`/`--help`: ArgumentParser prints the `run` command's help.
        case help
    }

    /// Parses the words after `run`. A word that is not an option, before the environment,
    /// or an option after it, is a usage error that says where it goes.
    static func parse(_ words: [String]) throws(StrataError) -> Parsed {
        var line = RunCommandLine()
        guard let first = try CommandLineOption.parse(words, options, into: &line, command: "run") else { return .help }
        let index = first
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

    /// Runs the command in a new session and returns its exit status.
    func execute() throws(StrataError) -> Int32 {
        let engine = try Invocation.engine(root: root, mirrors: mirrors, frozen: frozen, progress: progress)
        let environment = try engine.load(env, lockfile: lockfile)
        let lockfile = try engine.lockfileForUse(environment)
        return try engine.run(environment, lockfile: lockfile,
                              options: RunOptions(argv: argv.isEmpty ? nil : argv, keep: keep, name: name))
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
            if word.count == 2, word.hasPrefix("-"), let flag = options.first(where: { $0.short != nil && $0.short == word.last }),
               flag.value == nil {
                flag.set(&line, "")
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

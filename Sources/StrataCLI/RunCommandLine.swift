import Strata
import StrataEnvironment
import Glibc
import StrataOS
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
    /// `-d`: start the session in the background and print its name.
    var detach = false
    /// The background runner `-d` starts: the command's output goes to the session's log.
    var logToSession = false
    /// The words as given, which `-d` hands to its background runner.
    var words: [String] = []
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
        Option(name: "detach", value: nil, help: "Run in the background; print the session's name (strata logs, strata stop).", short: "d") { line, _ in
            line.detach = true
        },
        Option(name: "log-to-session", value: nil, help: "", hidden: true) { line, _ in line.logToSession = true },
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
        line.words = words
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

    /// `-d`: builds here (so that a failure is said on this terminal), then starts this same
    /// command line as a background runner in a session of its own, waits until its session
    /// runs (or has already ended), and prints the session's name.
    func startInBackground(_ engine: Engine) throws(StrataError) -> Int32 {
        let environment = try engine.load(env, lockfile: lockfile)
        _ = try flags.overlay(workingDirectory: ProcessState.workingDirectory(), lookup: ProcessState.variable)
        let lockfile = try engine.lockfileForUse(environment)
        let built = try engine.build(environment, lockfile: lockfile)
        for warning in built.warnings { engine.context.note(warning) }
        let name = self.name ?? "strata-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        if self.name == nil, try engine.sessions.list().contains(where: { $0.record.name == name }) {
            throw .usage("the name \(name) is taken; give one with --name")
        }
        if let existing = self.name, try engine.sessions.list().contains(where: { $0.record.name == existing }) {
            throw .store(.sessionExists(existing))
        }
        var executable = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &executable, executable.count - 1)
        guard length > 0 else { throw .input(path: "/proc/self/exe", reason: SystemError.text(errno)) }
        let errors = engine.store.temporaryPath("detach-" + name)
        var runner = Subprocess(executable: String(decoding: executable[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                arguments: ["run", "--log-to-session", "--quiet"] + (self.name == nil ? ["--name", name] : []) + words,
                                environment: ProcessState.environment())
        runner.workingDirectory = ProcessState.workingDirectory()
        let pid: pid_t
        do { pid = try runner.startDetached(errorLog: errors) } catch { throw .input(path: error.path, reason: "cannot start the background runner: \(error.reason)") }
        defer { unlink(errors) }
        // Until the session runs, or the runner ended (a command that already finished is fine).
        var status: Int32 = 0
        for _ in 0..<1000 {
            if try engine.sessions.list().contains(where: { $0.record.name == name && $0.running }) { break }
            if waitpid(pid, &status, WNOHANG) == pid {
                guard status == 0 else {
                    let said = (try? HostFile.read(errors, limit: 64 << 10)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                    let first = said.split(separator: "\n").last { !$0.isEmpty }.map { String($0.dropFirst($0.hasPrefix("strata: ") ? 8 : 0)) }
                    throw .input(path: name, reason: "the session did not start: " + (first ?? "its runner exited with status \(status >> 8)"))
                }
                break
            }
            usleep(10_000)
        }
        print(name)
        return 0
    }

    /// The options as the `run` command's help lists them.
    static var helpText: String { CommandLineOption.helpText(options) }

    /// Runs the command (the shell, with `shell`) in a new session and returns its exit status.
    func execute(shell: Bool = false) throws(StrataError) -> Int32 {
        let engine = try Invocation.engine(root: root, mirrors: mirrors, frozen: frozen, progress: progress)
        if let session { return try engine.sessions.shell(session: session) }
        if detach && !logToSession {
            if shell { throw .usage("strata shell is interactive; run a command in the background with `strata run -d ENV -- CMD`") }
            return try startInBackground(engine)
        }
        var environment = try engine.load(env, lockfile: lockfile)
        // Checked before anything is locked or built: a bad flag changes nothing.
        let overlay = try flags.overlay(workingDirectory: ProcessState.workingDirectory(), lookup: ProcessState.variable)
        let lockfile = try engine.lockfileForUse(environment)
        // After the lock: the flags change this session, never what the lockfile pins.
        if let overlay { environment.manifest = environment.manifest.overriding(with: overlay) }
        var options = RunOptions(argv: argv.isEmpty ? nil : argv, keep: keep && !remove, name: name, shell: shell)
        options.remove = remove
        options.terminal = terminal
        options.logToSession = logToSession
        options.project = true
        options.workdirGiven = overlay?.writtenFields.contains("workdir") ?? false
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
    /// Left out of the help (strata's own plumbing, such as `-d`'s runner).
    var hidden = false
    var set: @Sendable (inout Line, String) -> Void

    init(name: String, value: String?, help: String, short: Character? = nil, hidden: Bool = false,
         set: @escaping @Sendable (inout Line, String) -> Void) {
        self.name = name; self.value = value; self.help = help; self.short = short; self.hidden = hidden; self.set = set
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
        let rows = options.filter { !$0.hidden }.map { option in
            ((option.short.map { "-\($0), " } ?? "") + "--" + option.name + (option.value.map { " " + $0 } ?? ""), option.help)
        }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }
}

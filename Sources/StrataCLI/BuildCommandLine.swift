import Strata
import StrataBuild
import StrataEnvironment

/// `strata build`'s options and what they do, for both parsers: `StrataCommand.Build`
/// (ArgumentParser: help, and any command line this one does not take) and `parse`, which
/// takes the plain ones without ArgumentParser. A build with everything cached is ~1 ms of
/// strata's own work, and ArgumentParser's reflection over the command is three times that
/// (callgrind: 15 of 21 million instructions); CI runs `strata build` on every job.
struct BuildCommandLine {
    var root: String?
    var lockfile: String?
    var mirrors: [String] = []
    var frozen = false
    var progress = ProgressMode.auto
    var noCache = false
    var verify = false
    var keep: String?
    var env = ""
    /// Something `parse` leaves to ArgumentParser (which words it, or shows help).
    var unusual = false

    static let options: [CommandLineOption<BuildCommandLine>] = [
        .init(name: "root", value: "DIR", help: OptionHelp.root) { $0.root = $1 },
        .init(name: "lockfile", value: "PATH", help: OptionHelp.lockfile) { $0.lockfile = $1 },
        .init(name: "mirror", value: "URL", help: OptionHelp.mirror) { $0.mirrors.append($1) },
        .init(name: "frozen", value: nil, help: OptionHelp.frozen) { line, _ in line.frozen = true },
        .init(name: "progress", value: "MODE", help: ProgressMode.help) { line, value in
            if let mode = ProgressMode(rawValue: value) { line.progress = mode } else { line.unusual = true }
        },
        .init(name: "quiet", value: nil, help: "", short: "q") { line, _ in line.progress = .quiet },
        .init(name: "no-cache", value: nil, help: "") { line, _ in line.noCache = true },
        .init(name: "verify", value: nil, help: "") { line, _ in line.verify = true },
        .init(name: "keep", value: "DIR", help: "") { $0.keep = $1 },
    ]

    /// The command line when it is options and then one environment, valid as ArgumentParser
    /// would find it; nil for anything else (help, a mistake), which ArgumentParser handles.
    static func parse(_ words: [String]) -> BuildCommandLine? {
        var line = BuildCommandLine()
        // Options before the environment, then (as ArgumentParser allows) after it.
        guard let index = try? CommandLineOption.parse(words, options, into: &line, command: "build"),
              index < words.count, !words[index].hasPrefix("-") else { return nil }
        let rest = Array(words[(index + 1)...])
        guard let end = try? CommandLineOption.parse(rest, options, into: &line, command: "build"), end == rest.count,
              !line.unusual, line.keep == nil || line.verify, !(line.verify && line.noCache) else { return nil }
        line.env = words[index]
        return line
    }

    /// Builds (or verifies) the environment and prints the snapshot id (or the report);
    /// the exit status when it is not 0.
    func execute() throws(StrataError) -> Int32 {
        let engine = try Invocation.engine(root: root, mirrors: mirrors, frozen: frozen, progress: progress)
        let environment = try engine.load(env, lockfile: lockfile)
        let lockfile = try engine.lockfileForUse(environment)
        if verify {
            let keepPath = keep.map { EnvironmentPaths.absolute($0, from: engine.context.workingDirectory) }
            let report = try engine.builder.verify(environment, lockfile: lockfile, keep: keepPath)
            StandardOutput.write(StrataCommand.Build.describe(report) + "\n")
            return report.reproducible ? 0 : 1
        }
        let result = try engine.build(environment, lockfile: lockfile, options: StrataBuild.BuildOptions(noCache: noCache))
        for warning in result.warnings { engine.context.note(warning) }
        StandardOutput.write(result.snapshot.description + "\n")
        return 0
    }
}

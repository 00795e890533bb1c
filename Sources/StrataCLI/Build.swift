import ArgumentParser
import Strata
import StrataBuild
import StrataEnvironment

extension StrataCommand {
    /// `strata build ENV`: fetch, verify and unpack what is missing; print the snapshot id.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Fetch, verify and unpack an environment's layers, run its steps; print its snapshot id.",
            discussion: """
            Uses the lockfile as it is; a missing or stale one is re-locked (refused under --frozen). A second build with everything cached unpacks nothing and runs no step: a `run` step is run again only when what it runs on or what it does changed.

              strata build busybox
              strata build app --no-cache --progress=plain
            """)

        @OptionGroup var options: BuildOptions
        @Flag(name: .long, help: "Run every `run` step again, whatever the store has for it (and record what it makes).")
        var noCache = false
        @Flag(name: .long, help: "Rebuild every layer in a fresh store with no cache and compare each with the one in use; exit 1 when any differs.")
        var verify = false
        @Option(name: .long, help: ArgumentHelp("With --verify: keep both trees (in-use/, rebuilt/) in this empty directory on the store's file system, for diffoscope.", valueName: "DIR"))
        var keep: String?
        @Argument(help: "The environment: NAME or a manifest path.") var env: String

        func validate() throws {
            if keep != nil && !verify { throw ValidationError("--keep goes with --verify") }
            if verify && noCache { throw ValidationError("--verify always rebuilds without the cache; leave out --no-cache") }
        }

        func run() throws {
            var line = BuildCommandLine()
            line.root = options.store.root
            line.lockfile = options.lock.lockfile
            line.mirrors = options.lock.mirror
            line.frozen = options.frozen
            line.progress = options.quiet ? .quiet : options.progress
            line.noCache = noCache
            line.verify = verify
            line.keep = keep
            line.env = env
            let status = try line.execute()
            if status != 0 { throw ExitCode(status) }
        }

        /// `reproducible: N layers, all identical`, or each layer from the first that differs on.
        static func describe(_ report: VerifyReport) -> String {
            guard !report.reproducible else {
                return "reproducible: \(report.layers.count) layer\(report.layers.count == 1 ? "" : "s"), all identical"
            }
            var lines: [String] = []
            var seenDifference = false
            for layer in report.layers {
                seenDifference = seenDifference || !layer.identical
                guard seenDifference else { continue }
                if layer.identical {
                    lines.append("\(layer.name): identical")
                    continue
                }
                lines.append("\(layer.name): differs (in use \(layer.inUse.short), rebuilt \(layer.rebuilt.short))")
                lines += layer.differences.prefix(200).map { "  " + $0 }
                if layer.differences.count > 200 { lines.append("  … and \(layer.differences.count - 200) more") }
            }
            let differing = report.layers.filter { !$0.identical }.count
            lines.append("not reproducible: \(differing) of \(report.layers.count) layers differ")
            return lines.joined(separator: "\n")
        }
    }
}

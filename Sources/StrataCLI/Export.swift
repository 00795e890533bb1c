import ArgumentParser
import Strata
import StrataEnvironment

extension StrataCommand {
    /// `strata export SESSION -o FILE`: a session's whole tree as a tar (`docker export`).
    struct ExportSession: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a session's root filesystem (its snapshot with its changes) to a tar.",
            discussion: """
            The tar holds the tree the session sees: owners, modes, mtimes, xattrs, hard links and device nodes as they are, deleted paths absent. It appears only when complete. `strata image import` (or `docker import`) makes an image of it; to keep the layers instead, `strata commit` the session.

              strata run --name work busybox -- sh -c 'echo hi > /greeting'
              strata export work -o work.tar
            """)

        @OptionGroup var options: StoreOptions
        @Option(name: .shortAndLong, help: ArgumentHelp("The file to write.", valueName: "FILE")) var output: String
        @Argument(help: "The session: its name or id.") var session: String

        func run() throws {
            let engine = try options.engine()
            try engine.sessions.export(session, to: EnvironmentPaths.absolute(output, from: engine.context.workingDirectory))
        }
    }
}

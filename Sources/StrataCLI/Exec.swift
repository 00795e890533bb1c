import ArgumentParser
import Strata

extension StrataCommand {
    /// `strata exec NAME -- CMD ARGS…`: one more command in a running session.
    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "exec",
            abstract: "Run a command in a running session; exit with its status.",
            discussion: """
            The command joins the session's namespaces and cgroups, as `docker exec` does: it sees the session's files, processes, hostname and network, and runs with the user, environment, working directory and confinement of the session's first command; on a terminal when stdin and stdout are one. Enter a stopped session again with `strata shell --session NAME`.

              strata run --name web busybox -- httpd -f -p 8080 &
              strata exec web -- ps
            """)

        @OptionGroup var options: StoreOptions
        @Option(name: .shortAndLong, help: ArgumentHelp("Set a variable (KEY alone: the caller's value).", valueName: "KEY[=VALUE]")) var env: [String] = []
        @Option(name: .customLong("env-file"), help: ArgumentHelp("Set the variables of a file of KEY=VALUE lines.", valueName: "FILE")) var envFiles: [String] = []
        @Option(name: .shortAndLong, help: ArgumentHelp("Start in DIR.", valueName: "DIR")) var workdir: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Run as this user (names or ids).", valueName: "USER[:GROUP]")) var user: String?
        @Flag(name: .shortAndLong, help: "Give the command a terminal even when stdin is not one.") var tty = false
        @Flag(name: .shortAndLong, help: "Keep stdin open (it always is; for docker's -i).") var interactive = false
        @Argument(help: "The session: its name or id (see `strata sessions`).") var session: String
        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.")
        var command: [String] = []

        func validate() throws {
            if command.first == "--" ? command.count < 2 : command.isEmpty {
                throw ValidationError("give the command to run after --: `strata exec \(session) -- CMD [ARG…]`")
            }
            if let first = command.first, first != "--", first.hasPrefix("-"), let end = command.firstIndex(of: "--") {
                let misplaced = command[..<end].joined(separator: " ")
                throw ValidationError("options go before the session: `strata exec \(misplaced) \(session) -- …`")
            }
        }

        func run() throws {
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            var flags = RunFlags()
            (flags.env, flags.envFiles, flags.workdir, flags.user) = (env, envFiles, workdir, user)
            let overlay = try flags.overlay(workingDirectory: ProcessState.workingDirectory(), lookup: ProcessState.variable)
            throw ExitCode(try options.engine().sessions.exec(session: session, argv: argv, overlay: overlay, terminal: tty ? true : nil))
        }
    }
}

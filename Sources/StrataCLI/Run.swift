import ArgumentParser
import Glibc
import Strata

extension StrataCommand {
    /// `strata run ENV -- CMD ARGS…`: run a command in a fresh session.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a command in a new session of an environment; exit with its status.",
            discussion: """
            The session is a writable overlay over the environment's read-only snapshot, in new
            mount, PID, UTS, IPC and network namespaces. It is removed when the command ends unless
            --keep or --name is given. The exit status is the command's (128+N if killed by signal N).

              strata run busybox -- sh -c 'echo hello > /tmp/x; cat /tmp/x'
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Keep the session after the command ends.") var keep = false
        @Option(name: .long, help: "Name the session (implies --keep).") var name: String?
        @Argument(help: "The environment: NAME or a manifest path.") var env: String
        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.")
        var command: [String] = []

        func validate() throws {
            // `run ENV --opt -- CMD`: an option after ENV would be taken for the command.
            if let first = command.first, first != "--", first.hasPrefix("-"), let end = command.firstIndex(of: "--") {
                let misplaced = command[..<end].joined(separator: " ")
                throw ValidationError("options go before the environment: `strata run \(misplaced) \(env) -- …`")
            }
        }

        func run() throws {
            var argv = command
            if argv.first == "--" { argv.removeFirst() }
            let invocation = RunInvocation(context: options.context, env: env, argv: argv, keep: keep, name: name)
            throw ExitCode(try invocation.execute())
        }
    }

    /// `strata shell ENV`: the manifest's shell in a new session, on this terminal;
    /// `strata shell --session NAME`: in a kept session again.
    struct Shell: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "shell",
            abstract: "Start the environment's shell (default /bin/sh) in a new session, or in a kept one.",
            discussion: """
            With --session, the shell runs in a kept session: joined when it is
            running (as `strata exec` does), else in the session started again on
            the changes it kept.

              strata shell busybox
              echo 'echo hi' | strata shell busybox
              strata shell --name work busybox; strata shell --session work
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Keep the session after the shell exits.") var keep = false
        @Option(name: .long, help: "Name the session (implies --keep).") var name: String?
        @Option(name: .long, help: "Enter this kept session (a name or id) instead of a new one.") var session: String?
        @Argument(help: "The environment: NAME or a manifest path.") var env: String?

        func validate() throws {
            if let session {
                if env != nil { throw ValidationError("give an environment or --session \(session), not both") }
                if keep || name != nil { throw ValidationError("--keep and --name make a new session; --session enters a kept one") }
            } else if env == nil {
                throw ValidationError("give the environment (`strata shell ENV`) or a kept session (`strata shell --session NAME`)")
            }
        }

        func run() throws {
            let engine = try options.engine()
            if let session { throw ExitCode(try engine.shell(session: session)) }
            let environment = try options.load(env ?? "")
            let lockfile = try engine.lockfileForUse(environment)
            let status = try engine.run(environment, lockfile: lockfile,
                                        options: RunOptions(argv: nil, keep: keep, name: name, shell: true))
            throw ExitCode(status)
        }
    }
}

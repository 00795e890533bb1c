import ArgumentParser
import Glibc
import Strata
import StrataSessions

extension StrataCommand {
    /// `strata run ENV -- CMD ARGS…`: run a command in a fresh session. Its words are
    /// parsed by `RunCommandLine` (see there why); this type gives it its help.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a command in a new session of an environment; exit with its status.",
            usage: "strata run [OPTION…] ENV [--] [CMD [ARG…]]",
            discussion: """
            The session is a writable overlay over the environment's read-only snapshot, its root after pivot_root, in new mount, PID, UTS, IPC and cgroup namespaces and a network namespace with only loopback ("network": "host" shares the host's). The command runs with Docker's default capabilities and seccomp profile, no_new_privs, Docker's masked and read-only /proc and /sys paths, as the manifest's user and within its limits; "security" loosens that deliberately. The session is removed when the command ends unless --keep or --name is given. Without CMD, the image's entrypoint and cmd run, else the manifest's shell. The exit status is the command's (128+N if killed by signal N).

            OPTIONS (before ENV), docker run's where Docker has them; the session flags (-e, -v, -w, -u, --memory…) change this session only, never the lockfile:
            \(RunCommandLine.helpText)

              strata run busybox -- sh -c 'echo hello > /tmp/x; cat /tmp/x'
              strata run --name work busybox -- sh -c 'echo hi > /greeting'
              strata run -e DEBUG=1 -v ./src:/src -w /src --memory 1g busybox -- ls
            """)

        @Argument(parsing: .allUnrecognized, help: .hidden) var words: [String] = []

        func run() throws {
            switch try RunCommandLine.parse(words) {
            case .run(let line): throw ExitCode(try line.execute())
            case .help: throw CleanExit.helpRequest(self)
            }
        }
    }

    /// `strata shell ENV`: the manifest's shell in a new session, on this terminal;
    /// `strata shell --session NAME`: in a kept session again.
    struct Shell: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "shell",
            abstract: "Start the environment's shell (default /bin/sh) in a new session, or in a kept one.",
            discussion: """
            The session is isolated and confined as `strata run`'s, and takes its options (-e, -v, -w, -u, --memory…). With --session NAME, the shell runs in a kept session: joined when it is running (as `strata exec` does), else in the session started again on the changes it kept.

            OPTIONS (before ENV):
            \(RunCommandLine.helpText)
              --session NAME   Enter this kept session (a name or id) instead of a new one.

              strata shell busybox
              echo 'echo hi' | strata shell busybox
              strata shell --name work busybox; strata shell --session work
            """)

        @Argument(parsing: .allUnrecognized, help: .hidden) var words: [String] = []

        func run() throws {
            switch try RunCommandLine.parse(words, command: "shell") {
            case .run(let line): throw ExitCode(try line.execute(shell: true))
            case .help: throw CleanExit.helpRequest(self)
            }
        }
    }
}

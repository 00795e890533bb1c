import ArgumentParser
import Glibc
import Strata
import StrataEnvironment

extension StrataCommand {
    /// `strata logs [-f] NAME`: what a background session's command wrote (`docker logs`).
    struct Logs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "logs",
            abstract: "Print the output of a session started with `strata run -d`, as docker logs does.",
            discussion: """
            stdout and stderr of the command, in the order written. With --follow, keeps printing what it writes until the session ends.

              strata run -d --name web busybox -- httpd -f -v -p 8080
              strata logs -f web
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .shortAndLong, help: "Keep printing the output until the session ends.") var follow = false
        @Argument(help: "The session: its name or id.") var session: String

        func run() throws {
            let sessions = try options.engine(lease: false).sessions
            var offset: Int64 = 0
            while true {
                let (bytes, running) = try sessions.log(session, from: offset)
                if !bytes.isEmpty {
                    StandardOutput.write(bytes)
                    offset += Int64(bytes.count)
                }
                guard follow, running || !bytes.isEmpty else { return }
                if bytes.isEmpty { usleep(50_000) }
            }
        }
    }

    /// `strata stop [-t SECONDS] NAME…`: ends running sessions as `docker stop` does.
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop running sessions: SIGTERM, then SIGKILL after a grace period, as docker stop does.",
            discussion: "Prints each session's name as it stops; a session that is not running is left as it is. The session is kept (strata rm removes it).")

        @OptionGroup var options: StoreOptions
        @Option(name: [.customShort("t"), .long], help: "Seconds to wait after SIGTERM before SIGKILL.") var time: Double = 10
        @Argument(help: "The sessions: names or ids.") var sessions: [String]

        func validate() throws {
            if sessions.isEmpty { throw ValidationError("name the session to stop: `strata stop NAME`") }
            if time < 0 { throw ValidationError("--time is a number of seconds, 0 or more") }
        }

        func run() throws {
            let engine = try options.engine()
            for session in sessions {
                if try engine.sessions.stop(session, seconds: time) {
                    print(session)
                } else {
                    engine.context.note("session \(session) is not running")
                }
            }
        }
    }
}

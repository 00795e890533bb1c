import ArgumentParser
import Glibc
import Strata
import StrataEnvironment

/// `strata`: reproducible Linux environments from a manifest and a lockfile.
@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Reproducible Linux environments: manifest → lockfile → snapshot → isolated session.",
        discussion: """
        ENV is a manifest path, or NAME for envs/NAME.json in the current directory or the nearest one above it.

          strata lock busybox          # pin every input of envs/busybox.json
          strata build busybox         # fetch, verify, unpack; print the snapshot
          strata run busybox -- ls /   # run a command in a fresh session
          strata shell busybox         # an interactive shell in a session
          strata run --name dev busybox -- sh -c 'echo hi > /hi'   # a kept session
          strata commit dev --tag hi:1 # its changes as an OCI image in the store
        """,
        subcommands: [Lock.self, Build.self, Run.self, Shell.self, Exec.self, Commit.self,
                      Sessions.self, RemoveSessions.self, DiffSession.self, ExportSession.self,
                      Images.self, ImageCommand.self, ImageCommand.Save.self, ImageCommand.Load.self, ImageCommand.Import.self,
                      Pull.self, Push.self, Login.self, Logout.self, Logs.self, Stop.self, VolumeCommand.self,
                      Collect.self, Prune.self, SystemCommand.self, EnvironmentUsage.self, Check.self, Serve.self])

    /// Parses like ArgumentParser, but exits 2 on usage errors (the manifest-error
    /// convention) and renders strata's errors as one sentence.
    static func main() {
        // With STRATA_HOST, the daemon runs the command (on its store, as root); this process relays.
        if let host = ProcessState.variable("STRATA_HOST"), !host.isEmpty {
            let words = Array(CommandLine.arguments.dropFirst())
            if words.first != "container-start" && words.first != "serve" { RemoteInvocation.exec(host: host, words) }
        }
        // First: a rootless strata enters its user namespace while it has one thread.
        Rootless.enter()
        do {
            let words = Array(CommandLine.arguments.dropFirst())
            // `strata serve`'s per-container process, not a command for people (no help, no ArgumentParser).
            if words.first == "container-start" { ContainerRunner.main(Array(words.dropFirst())) }
            // `strata run` is parsed without ArgumentParser (RunCommandLine says why); its help is ArgumentParser's.
            if words.first == "run", case .run(let line) = try RunCommandLine.parse(Array(words.dropFirst())) {
                throw ExitCode(try line.execute())
            }
            // So is a plain `strata build` (BuildCommandLine says why); anything else goes to ArgumentParser.
            if words.first == "build", let line = BuildCommandLine.parse(Array(words.dropFirst())) {
                throw ExitCode(try line.execute())
            }
            var command = try parseAsRoot()
            try command.run()
        } catch let error as StrataError {
            fail(error.description, code: error.exitCode)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            fail(message(for: error) + "\nSee 'strata --help'.", code: 2)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        StandardError.write("strata: " + message + "\n")
        Glibc.exit(code)
    }
}

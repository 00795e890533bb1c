import ArgumentParser
import Glibc
import Strata
import StrataStore

/// `strata`: reproducible Linux environments from a manifest and a lockfile.
@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Reproducible Linux environments: manifest → lockfile → snapshot → isolated session.",
        discussion: """
        ENV is a manifest path, or NAME for envs/NAME.json under the current directory.

          strata lock busybox          # pin every input of envs/busybox.json
          strata build busybox         # fetch, verify and unpack; prints the snapshot id
          strata run busybox -- ls /   # run a command in a fresh session
          strata shell busybox         # an interactive shell in a session
          strata run --name dev busybox -- sh -c 'echo hi > /hi'   # a kept session
          strata commit dev --tag hi:1 # its changes as an OCI image in the store
        """,
        subcommands: [Lock.self, Build.self, Run.self, Shell.self, Exec.self, Commit.self, Images.self, ImageCommand.self,
                      Sessions.self, RemoveSessions.self, DiffSession.self, VolumeCommand.self])

    /// Parses like ArgumentParser, but exits 2 on usage errors (the manifest-error
    /// convention) and renders strata's errors as one sentence.
    static func main() {
        do {
            if let invocation = RunInvocation(fastPathArguments: Array(CommandLine.arguments.dropFirst())) {
                throw ExitCode(try invocation.execute())
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
        FileHandleStderr.write("strata: " + message + "\n")
        Glibc.exit(code)
    }
}

/// Options every command shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store directory (default: $STRATA_ROOT, /var/lib/strata as root).")
    var root: String?

    @Flag(name: .long, help: "Refuse a missing or stale lockfile instead of re-locking (default when CI=true).")
    var frozen = false

    @Option(name: .long, help: "Use this lockfile instead of the one beside the manifest.")
    var lockfile: String?

    @Option(name: .long, help: ArgumentHelp("A Debian mirror URL to use first (repeatable); see also $STRATA_DEBIAN_MIRROR.", valueName: "URL"))
    var mirror: [String] = []

    var context: CommandContext { CommandContext(root: root, frozen: frozen, lockfile: lockfile, mirrors: mirror) }
    func engine() throws(StrataError) -> Engine { try context.engine() }
    func load(_ argument: String) throws(StrataError) -> LoadedEnvironment { try context.load(argument) }
}

/// The store options once parsed, however they were parsed.
struct CommandContext {
    var root: String?
    var frozen: Bool
    var lockfile: String?
    var mirrors: [String] = []

    func engine() throws(StrataError) -> Engine {
        let environment = ProcessEnvironment.current
        let path = root ?? Store.defaultRoot(environment: environment)
        let store: Store
        do { store = try Store(root: path) } catch { throw .store(error) }
        let frozen = self.frozen || environment["CI"] == "true"
        var engine = Engine(store: store, frozen: frozen, note: { FileHandleStderr.write("strata: " + $0 + "\n") })
        if !mirrors.isEmpty { engine.mirrors = mirrors }
        if let tool = environment["STRATA_FETCH"] { engine.fetchTool = tool }
        return engine
    }

    func load(_ argument: String) throws(StrataError) -> LoadedEnvironment {
        try LoadedEnvironment(paths: EnvironmentPaths(argument: argument, lockfileOverride: lockfile))
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }
}

enum ProcessEnvironment {
    /// Only the variables strata reads: building a dictionary of the whole environment
    /// instantiated its generic metadata on every start (perf: ~2% of `strata run`).
    static var current: [String: String] {
        var result: [String: String] = [:]
        for name in ["STRATA_ROOT", "XDG_DATA_HOME", "HOME", "CI", "STRATA_FETCH"] {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }
}

import ArgumentParser
import Glibc
import StrataEnvironment
import StrataOS

extension StrataCommand {
    /// `strata serve`: the store's sessions, images and volumes through Docker's Engine API.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve Docker's Engine API (1.44) on a UNIX socket, so that docker, docker-py and their kin drive strata.",
            discussion: """
            A container is a kept session made from an image of the store; `strata sessions`, `strata exec` and `strata commit` see the same ones. strata itself stays daemonless: this is for clients that speak Docker's API.

              strata serve --socket /tmp/strata.sock &
              docker -H unix:///tmp/strata.sock run --rm busybox echo hi

            Nothing authenticates a client: whoever can open the socket can do anything root can. The socket is mode 0660, group `strata` when that group exists; a TCP listener exists only with --listen, and should only ever be on 127.0.0.1.

            On SIGTERM or SIGINT the daemon stops its running containers (SIGTERM, then SIGKILL after 10 s) and exits; containers, images and volumes stay in the store for the next start.
            """)

        @OptionGroup var options: StoreOptions
        @Option(help: ArgumentHelp("The UNIX socket to listen on.", valueName: "PATH")) var socket = "/run/strata/strata.sock"
        @Option(help: ArgumentHelp("Also listen on TCP, unauthenticated: 127.0.0.1:PORT.", valueName: "HOST:PORT")) var listen: String?

        func validate() throws {
            if let listen, Self.address(listen) == nil {
                throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:2375")
            }
        }

        static func address(_ text: String) -> (host: String, port: Int)? {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), port > 0, port < 65536 else { return nil }
            let host = String(text[..<colon])
            return host.isEmpty ? nil : (host, port)
        }

        /// Execs `strata-serve` (installed beside strata) with the options checked here.
        func run() throws {
            var executable = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink("/proc/self/exe", &executable, executable.count - 1)
            guard length > 0 else { throw StrataError.input(path: "/proc/self/exe", reason: SystemError.text(errno)) }
            let runner = String(decoding: executable[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let daemon = String(runner[..<(runner.lastIndex(of: "/") ?? runner.startIndex)]) + "/strata-serve"
            let context = ProcessState.context(variables: ProcessState.variables())
            var arguments = ["strata-serve", "--runner", runner, "--socket", EnvironmentPaths.absolute(socket, from: context.workingDirectory),
                             "--root", ProcessState.storeRoot(options.root, context: context)]
            if let listen { arguments += ["--listen", listen] }
            let argv = arguments.map { strdup($0) } + [nil]
            execv(daemon, argv)
            throw StrataError.input(path: daemon, reason: "cannot start the daemon: \(SystemError.text(errno)); install strata-serve beside strata")
        }
    }
}

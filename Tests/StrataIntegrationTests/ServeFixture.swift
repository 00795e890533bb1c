import Foundation
import Testing

/// `strata serve` on a socket of the test's own, over the harness's store, with busybox
/// imported as `busybox:latest`; the real `docker` CLI (and docker-py) as its clients.
final class ServeFixture {
    let harness: Harness
    let socket: String
    let log: String
    private var daemon: Process?
    /// The docker CLI's own config (no credentials, no contexts of the machine's).
    let dockerConfig: String

    /// The docker CLI (28.2 on these machines: a client only, no engine).
    static let dockerCLI: String? = ["/usr/local/bin/docker", "/usr/bin/docker"].first { FileManager.default.isExecutableFile(atPath: $0) }

    init() throws {
        harness = try Harness()
        let base = URL(fileURLWithPath: harness.project).deletingLastPathComponent().path
        socket = base + "/strata.sock"
        log = base + "/serve.log"
        dockerConfig = base + "/docker-config"
        try FileManager.default.createDirectory(atPath: dockerConfig, withIntermediateDirectories: true)
        let imported = harness.strata(["import", "images/busybox-rootfs.tar.gz", "busybox:latest", "--change", "CMD [\"sh\"]"])
        guard imported.status == 0 else { throw ServeFailure("import: \(imported.stderr)") }
        try start()
    }

    /// Starts the daemon and waits until `/_ping` answers.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = ["serve", "--socket", socket]
        process.currentDirectoryURL = URL(fileURLWithPath: harness.project)
        process.environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "STRATA_ROOT": harness.store]
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        output.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        daemon = process
        for _ in 0..<500 {
            if curl(["-s", "http://d/_ping"]).stdout == "OK" { return }
            usleep(20_000)
        }
        throw ServeFailure("strata serve did not answer on \(socket): \(logText)")
    }

    /// SIGTERM, and the daemon's exit status once it has stopped its containers.
    @discardableResult
    func stop() -> Int32 {
        guard let daemon else { return 0 }
        daemon.terminate()
        daemon.waitUntilExit()
        self.daemon = nil
        return daemon.terminationStatus
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func cleanup() {
        stop()
        harness.cleanup()
    }

    var environment: [String: String] {
        ["PATH": "/usr/local/bin:/usr/bin:/bin", "DOCKER_HOST": "unix://" + socket, "DOCKER_CONFIG": dockerConfig, "HOME": dockerConfig]
    }

    func docker(_ arguments: [String], stdin: String? = nil) -> Harness.Result {
        Harness.exec([Self.dockerCLI ?? "/usr/bin/docker"] + arguments, cwd: harness.project, env: environment, stdin: stdin)
    }

    /// Polls `condition` (every 20 ms, up to 20 s) until it holds: for what a test waits on
    /// (a line in a log, a state), never a guessed delay.
    static func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            usleep(20_000)
        }
        return false
    }

    /// Runs the shell `line` starts in a tmux terminal of `rows`×`columns` and drives it:
    /// the prompt, `stty size`, a resize to 40×120 that reaches the command's terminal,
    /// Ctrl-C reaching a `sleep`, then `exit CODE` and the status the line echoes.
    func driveShell(_ line: String, rows: Int, columns: Int, exitCode: Int) throws {
        guard let terminal = TerminalSession.start(line + "; echo \"exited $?\"; sleep 60", in: harness.project, columns: columns, rows: rows) else {
            throw ServeFailure("tmux did not start")
        }
        defer { terminal.close() }
        #expect(terminal.waitForScreen("/ #"), "\(terminal.screen)")
        terminal.send("stty size", "Enter")
        #expect(terminal.waitForScreen("\(rows) \(columns)"), "\(terminal.screen)")
        terminal.tmux(["resize-window", "-t", "t", "-x", "120", "-y", "40"])
        // The resize reaches the command's terminal as the client passes it on: asked until it shows.
        #expect(Self.eventually {
            terminal.send("stty size", "Enter")
            return terminal.waitForScreen("40 120")
        }, "\(terminal.screen)")
        terminal.send("sleep 100; echo not-interrupted", "Enter")
        #expect(terminal.waitForScreen("sleep 100; echo not-interrupted"))
        terminal.send("C-c")
        terminal.send("echo after-$((6*7))", "Enter")
        #expect(terminal.waitForScreen("after-42"), "\(terminal.screen)")
        #expect(!terminal.screen.split(separator: "\n").contains { $0.hasPrefix("not-interrupted") }, "Ctrl-C reached the sleep")
        terminal.send("exit \(exitCode)", "Enter")
        #expect(terminal.waitForScreen("exited \(exitCode)"), "\(terminal.screen)")
    }

    /// `curl` on the socket: `-s`, `-w` and the like as given; `http://d/PATH` is the URL form.
    func curl(_ arguments: [String]) -> Harness.Result {
        Harness.exec(["/usr/bin/curl", "--unix-socket", socket, "--max-time", "30"] + arguments, cwd: "/", env: ["PATH": "/usr/bin:/bin"])
    }

    /// The python that has docker-py (the machine's pip-installed one, else Debian's).
    static let python: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").map { $0 + "/python3" } + ["/usr/bin/python3"]
        return candidates.first { candidate in
            FileManager.default.isExecutableFile(atPath: candidate)
                && Harness.exec([candidate, "-c", "import docker"], cwd: "/", env: ["PATH": path]).status == 0
        }
    }()

    /// A python script with `client`, a docker-py client of the daemon, defined.
    func python(_ script: String) throws -> Harness.Result {
        guard let python = Self.python else { throw ServeFailure("no python3 with the docker package (pip install docker)") }
        let prelude = "import docker, sys, json\nclient = docker.DockerClient(base_url='unix://\(socket)', timeout=60)\n"
        var environment = self.environment
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return Harness.exec([python, "-c", prelude + script], cwd: harness.project, env: environment)
    }
}

struct ServeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

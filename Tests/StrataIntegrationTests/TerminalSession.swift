import Foundation

/// A real terminal for a test: a tmux server of its own running `command` in a window of
/// `columns`×`rows`, whose screen the test reads and types into. Killed by `close()`.
struct TerminalSession {
    let name = "strata-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let directory: String

    /// Starts `command` (a shell line). The server tmux starts keeps every fd it inherits:
    /// our stdout pipe, and pipes of processes other tests start at the same moment. A
    /// long-lived server holding one keeps that test waiting for EOF, so it starts from
    /// python with only 0-2, on /dev/null.
    static func start(_ command: String, in directory: String, columns: Int = 100, rows: Int = 30) -> TerminalSession? {
        let terminal = TerminalSession(directory: directory)
        let name = terminal.name
        let launcher = "import subprocess, sys; d = subprocess.DEVNULL; sys.exit(subprocess.call(sys.argv[1:], stdin=d, stdout=d, stderr=d))"
        let started = Harness.exec(["/usr/bin/python3", "-c", launcher, "/usr/bin/tmux", "-L", name, "new-session", "-d", "-s", "t",
                                    "-x", String(columns), "-y", String(rows), command],
                                   cwd: directory, env: ["PATH": "/usr/bin:/bin", "TERM": "xterm"])
        return started.status == 0 ? terminal : nil
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }

    @discardableResult
    func tmux(_ args: [String]) -> Harness.Result {
        Harness.exec(["/usr/bin/tmux", "-L", name] + args, cwd: directory, env: ["PATH": "/usr/bin:/bin", "TERM": "xterm"])
    }

    var screen: String { tmux(["capture-pane", "-t", "t", "-p"]).stdout }

    /// Polls the screen for up to 15 s until `done` holds for it.
    func waitForScreen(_ done: (String) -> Bool) -> Bool {
        for _ in 0..<300 {
            if done(screen) { return true }
            usleep(50_000)
        }
        return false
    }

    func waitForScreen(_ text: String) -> Bool { waitForScreen { $0.contains(text) } }

    func send(_ keys: String...) { tmux(["send-keys", "-t", "t"] + keys) }

    func close() { tmux(["kill-server"]) }
}

import Foundation
import Testing

/// PID 1, signals, the interactive terminal and plain pipes, through the real CLI.
@Suite struct SessionControlTests {
    func environment() throws -> Harness {
        let harness = try Harness()
        try harness.write("ready-dir/.keep", "")
        try harness.manifest("bb", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "mounts": [{"type": "bind", "source": "../ready-dir", "target": "/ready"}]}
        """)
        #expect(harness.strata(["build", "bb"]).status == 0)
        return harness
    }

    /// Processes whose command line mentions `marker` (the session's processes, seen from the host).
    func processes(mentioning marker: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(marker) ? pid + ": " + line : nil
        }
    }

    @Test func sigtermStopsASessionThatIgnoresIt() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let marker = "ignoring-term-\(getpid())"
        let process = try harness.start(["run", "bb", "--", "sh", "-c",
                                         "trap '' TERM; touch /ready/up; sleep 6061 & sleep 6062; echo \(marker)"])
        #expect(Harness.waitFor(harness.project + "/ready-dir/up"))
        let sent = Date()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let took = Date().timeIntervalSince(sent)
        #expect(took < 10, "took \(took) s")
        #expect(process.terminationStatus == 137)
        #expect(processes(mentioning: "sleep 606").filter { !$0.contains("strata") }.isEmpty)
    }

    @Test func userSignalsAndExitStatus() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let process = try harness.start(["run", "bb", "--", "sh", "-c",
                                         "trap 'echo 1 >> /ready/got' USR1; trap 'echo 2 >> /ready/got; exit 5' USR2; touch /ready/up; while true; do sleep 0.05; done"])
        #expect(Harness.waitFor(harness.project + "/ready-dir/up"))
        kill(process.processIdentifier, SIGUSR1)
        #expect(Harness.waitFor(harness.project + "/ready-dir/got"))
        kill(process.processIdentifier, SIGUSR2)
        process.waitUntilExit()
        #expect(process.terminationStatus == 5)
        #expect(try harness.read("ready-dir/got") == "1\n2\n")
        // Died of a signal: 128+N.
        #expect(harness.strata(["run", "bb", "--", "sh", "-c", "kill -USR1 $$"]).status == 128 + SIGUSR1)
    }

    @Test func orphansAreReaped() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let run = harness.strata(["run", "bb", "--", "sh", "-c",
                                  "for i in 1 2 3 4 5; do (sleep 0.1 &) ; done; sleep 0.5; cat /proc/[0-9]*/stat"])
        #expect(run.status == 0)
        let states = run.stdout.split(separator: "\n").compactMap { line -> Substring? in
            guard let close = line.lastIndex(of: ")") else { return nil }
            return line[line.index(after: close)...].split(separator: " ").first
        }
        #expect(!states.isEmpty)
        #expect(!states.contains("Z"), "\(run.stdout)")
    }

    @Test func pipesStreamAGigabyte() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        // Both directions at once through the session, with no terminal in between.
        let script = "head -c 1073741824 /dev/zero | STRATA_ROOT='\(harness.store)' '\(Harness.binary)' run bb -- cat | wc -c"
        let result = Harness.exec(["/bin/sh", "-c", script], cwd: harness.project, env: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1073741824")
        let shell = harness.strata(["shell", "bb"], stdin: "echo from-stdin\nexit 4\n")
        #expect(shell.stdout == "from-stdin\n")
        #expect(shell.status == 4)
    }

    /// The interactive shell, driven through a real terminal (tmux): prompt, a command,
    /// Ctrl-C interrupts `sleep` inside (not strata), the window size follows, `exit 7`
    /// exits strata with 7, and the outer terminal's mode is what it was.
    @Test func interactiveShellInATerminal() throws {
        guard TerminalSession.available else {
            Issue.record("tmux is not installed (scripts/setup installs it)")
            return
        }
        let harness = try environment()
        defer { harness.cleanup() }
        let out = harness.project + "/ready-dir"
        // `after` appears only once complete (the test polls for it).
        let inner = "stty -a > \(out)/before; STRATA_ROOT='\(harness.store)' TERM=xterm '\(Harness.binary)' shell bb; echo $? > \(out)/exit; stty -a > \(out)/after.tmp; mv \(out)/after.tmp \(out)/after; sleep 60"
        guard let terminal = TerminalSession.start(inner, in: harness.project) else {
            Issue.record("tmux did not start")
            return
        }
        defer { terminal.close() }
        func screen() -> String { terminal.screen }
        func waitForScreen(_ text: String) -> Bool { terminal.waitForScreen(text) }
        func tmux(_ args: [String]) -> Harness.Result { terminal.tmux(args) }
        // A session of the project: the prompt names the environment and the directory.
        #expect(waitForScreen("(bb) root@strata:\(harness.project)#"), "no prompt: \(screen())")
        _ = tmux(["send-keys", "-t", "t", "tty; stty size; echo ok-$((6*7))", "Enter"])
        #expect(waitForScreen("ok-42"), "\(screen())")
        #expect(screen().contains("/dev/pts/0"))
        #expect(screen().contains("30 100"))
        _ = tmux(["send-keys", "-t", "t", "sleep 100", "Enter"])
        usleep(500_000)
        _ = tmux(["send-keys", "-t", "t", "C-c"])
        usleep(200_000)
        _ = tmux(["send-keys", "-t", "t", "echo after-$?", "Enter"])
        #expect(waitForScreen("after-130"), "Ctrl-C did not interrupt sleep: \(screen())")
        _ = tmux(["resize-window", "-t", "t", "-x", "120", "-y", "40"])
        usleep(300_000)
        _ = tmux(["send-keys", "-t", "t", "stty size", "Enter"])
        #expect(waitForScreen("40 120"), "\(screen())")
        _ = tmux(["send-keys", "-t", "t", "exit 7", "Enter"])
        #expect(Harness.waitFor(out + "/after"), "\(screen())")
        #expect(try harness.read("ready-dir/exit") == "7\n")
        // The same modes (the first line holds the window size, which the test changed).
        let before = try harness.read("ready-dir/before").split(separator: "\n").dropFirst()
        let after = try harness.read("ready-dir/after").split(separator: "\n").dropFirst()
        #expect(before == after)
        #expect(!before.isEmpty)
    }
}

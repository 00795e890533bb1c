import Foundation
import Testing

/// `strata exec` into a running session and `strata shell --session` into a kept one,
/// through the real CLI.
@Suite struct ExecTests {
    func environment() throws -> Harness {
        let harness = try Harness()
        try harness.write("ready-dir/.keep", "")
        try harness.manifest("bb", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"},
         "hostname": "exec-test", "workdir": "/work", "env": {"GREETING": "hello"},
         "mounts": [{"type": "bind", "source": "../ready-dir", "target": "/ready"}]}
        """)
        #expect(harness.strata(["build", "bb"]).status == 0)
        return harness
    }

    static let report = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; pwd; echo $GREETING"

    /// `strata run --name NAME` whose command writes `/tmp/x` (the session's own tmpfs),
    /// reports its confinement, and runs until `ready-dir/stop` appears.
    func startSession(_ harness: Harness, name: String) throws -> Process {
        let process = try harness.start(["run", "--name", name, "bb", "--", "sh", "-c",
                                         "echo written-first > /tmp/x; (\(Self.report)) > /ready/first; touch /ready/up; while [ ! -e /ready/stop ]; do sleep 0.05; done"])
        #expect(Harness.waitFor(harness.project + "/ready-dir/up"))
        return process
    }

    func stop(_ harness: Harness, _ process: Process) {
        FileManager.default.createFile(atPath: harness.project + "/ready-dir/stop", contents: nil)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test func execJoinsTheRunningSession() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let process = try startSession(harness, name: "web")

        let seen = harness.strata(["exec", "web", "--", "sh", "-c", "cat /tmp/x; hostname; ps -o pid,args"])
        #expect(seen.status == 0, "\(seen.stderr)")
        let lines = seen.stdout.split(separator: "\n")
        #expect(lines.first == "written-first")
        #expect(lines.dropFirst().first == "exec-test")
        // The first command's loop: one PID namespace.
        #expect(seen.stdout.contains("while [ ! -e /ready/stop ]"), "\(seen.stdout)")

        let confined = harness.strata(["exec", "web", "--", "sh", "-c", Self.report])
        #expect(confined.status == 0, "\(confined.stderr)")
        let first = try harness.read("ready-dir/first")
        #expect(first.contains("CapBnd:\t00000000a80425fb"))
        #expect(first.contains("Seccomp:\t2"))
        #expect(confined.stdout == first)
        #expect(first.hasSuffix("/work\nhello\n"))

        #expect(harness.strata(["exec", "web", "--", "sh", "-c", "exit 9"]).status == 9)
        #expect(harness.strata(["exec", "web", "--", "sh", "-c", "kill -USR1 $$"]).status == 128 + SIGUSR1)
        let missing = harness.strata(["exec", "web", "--", "/no/such/tool"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/no/such/tool"), "\(missing.stderr)")

        stop(harness, process)
        let stopped = harness.strata(["exec", "web", "--", "true"])
        #expect(stopped.status == 1, "as docker exec into a stopped container")
        #expect(stopped.stderr.contains("is not running") && stopped.stderr.contains("strata shell --session web"), "\(stopped.stderr)")
        #expect(stopped.stderr.split(separator: "\n").count == 1, "\(stopped.stderr)")
    }

    @Test func twoExecsAtOnce() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let process = try startSession(harness, name: "both")
        let execs = try (0..<2).map { index in
            try harness.start(["exec", "both", "--", "sh", "-c",
                               "touch /ready/in-\(index); while [ ! -e /ready/in-0 ] || [ ! -e /ready/in-1 ]; do sleep 0.02; done; exit \(index + 3)"])
        }
        for exec in execs { exec.waitUntilExit() }
        #expect(execs.map(\.terminationStatus) == [3, 4])
        stop(harness, process)
    }

    @Test func unknownSessionsAreRefused() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let result = harness.strata(["exec", "nobody", "--", "true"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("strata: no session named \"nobody\""), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        let shell = harness.strata(["shell", "--session", "nobody"], stdin: "true\n")
        #expect(shell.status == 1)
        #expect(shell.stderr.hasPrefix("strata: no session named \"nobody\""), "\(shell.stderr)")
        #expect(harness.strata(["exec", "nobody"]).status == 2)
    }

    @Test func shellEntersAStoppedSessionAgain() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "kept", "bb", "--", "sh", "-c", "echo kept-before > /x"]).status == 0)
        let again = harness.strata(["shell", "--session", "kept"], stdin: "cat /x; pwd; echo $GREETING; echo more > /y; exit 6\n")
        #expect(again.status == 6, "\(again.stderr)")
        #expect(again.stdout == "kept-before\n/work\nhello\n")
        let third = harness.strata(["shell", "--session", "kept"], stdin: "cat /x /y\n")
        #expect(third.stdout == "kept-before\nmore\n", "\(third.stderr)")
        // Not removed after the shell: it is a kept session.
        #expect(harness.strata(["shell", "--session", "kept"], stdin: "true\n").status == 0)
    }

    @Test func shellJoinsARunningSession() throws {
        let harness = try environment()
        defer { harness.cleanup() }
        let process = try startSession(harness, name: "live")
        // /tmp is the running session's own tmpfs: a restarted session would not have /tmp/x.
        let joined = harness.strata(["shell", "--session", "live"], stdin: "cat /tmp/x\n")
        #expect(joined.status == 0, "\(joined.stderr)")
        #expect(joined.stdout == "written-first\n")
        stop(harness, process)
    }
}

import Foundation
import Testing

@Suite struct RunTests {
    func busybox(_ extra: String = "") throws -> Harness {
        let harness = try Harness()
        try harness.manifest("bb", """
        {
          "project": false,
          "from": {"image": "oci:../images/busybox:latest"}\(extra)
        }
        """)
        return harness
    }

    @Test func outputAndExitCodes() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let hello = harness.strata(["run", "bb", "--", "echo", "hello", "world"])
        #expect(hello.status == 0, "\(hello.stderr)")
        #expect(hello.stdout == "hello world\n")
        #expect(harness.strata(["run", "bb", "--", "sh", "-c", "exit 7"]).status == 7)
        #expect(harness.strata(["run", "bb", "--", "false"]).status == 1)
        #expect(harness.strata(["run", "bb", "--", "sh", "-c", "kill -TERM $$"]).status == 143)
        #expect(harness.strata(["run", "bb", "--", "sh", "-c", "kill -KILL $$"]).status == 137)
        let missing = harness.strata(["run", "bb", "--", "/no/such/command"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/no/such/command"), "\(missing.stderr)")
    }

    /// `run ENV -- CMD` skips ArgumentParser for start-up speed; every other shape goes
    /// through it. Both must behave the same.
    @Test func bothArgumentPathsAgree() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let fast = harness.strata(["run", "--root", harness.store, "--frozen", "bb", "--", "echo", "a", "--", "b"])
        #expect(fast.status == 1, "frozen without a lockfile refuses: \(fast.stderr)")
        #expect(harness.strata(["lock", "bb"]).status == 0)
        let fastRun = harness.strata(["run", "--root", harness.store, "--frozen", "bb", "--", "echo", "a", "--", "b"])
        #expect(fastRun.stdout == "a -- b\n", "\(fastRun.stderr)")
        let parsed = harness.strata(["run", "bb", "echo", "no", "terminator"])
        #expect(parsed.stdout == "no terminator\n", "\(parsed.stderr)")
        let help = harness.strata(["run", "--help", "--", "x"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE"), "\(help.stdout)")
        let unknown = harness.strata(["run", "--bogus", "bb", "--", "true"])
        #expect(unknown.status == 2, "\(unknown.stderr)")
        let named = harness.strata(["run", "--name", "n1", "bb", "--", "true"])
        #expect(named.status == 0)
        #expect(harness.strata(["run", "--name", "n1", "bb", "--", "true"]).stderr.contains("already exists"))
    }

    /// A SIGTERM to strata reaches the command; strata exits with the command's status.
    @Test func signalsAreForwarded() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["build", "bb"]).status == 0)
        try harness.write("ready-dir/.keep", "")
        try harness.manifest("sig", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "mounts": [{"type": "bind", "source": "../ready-dir", "target": "/ready"}]}
        """)
        let process = try harness.start(["run", "sig", "--", "sh", "-c",
                                         "trap 'exit 42' TERM; touch /ready/up; while true; do sleep 0.05; done"])
        var waited = 0
        while !FileManager.default.fileExists(atPath: harness.project + "/ready-dir/up"), waited < 200 {
            usleep(50_000); waited += 1
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 42)
    }

    @Test func stdinStreamsThrough() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let result = harness.strata(["run", "bb", "--", "wc", "-l"], stdin: String(repeating: "line\n", count: 10000))
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "10000")
        let shell = harness.strata(["shell", "bb"], stdin: "echo from-shell; exit 3\n")
        #expect(shell.status == 3)
        #expect(shell.stdout == "from-shell\n")
    }

    @Test func settingsAreApplied() throws {
        let harness = try busybox("""
        ,
          "env": {"GREETING": "hi there", "PATH": "/bin"},
          "workdir": "/srv/app",
          "hostname": "testhost",
          "mounts": [
            {"type": "bind", "source": "../data", "target": "/data", "readonly": true},
            {"type": "bind", "source": "../out", "target": "/out"},
            {"type": "tmpfs", "target": "/scratch"}
          ]
        """)
        defer { harness.cleanup() }
        try harness.write("data/in.txt", "input\n")
        try harness.write("out/.keep", "")
        let script = """
        echo "$GREETING|$PATH|$(pwd)|$(hostname)"; cat /data/in.txt; \
        touch /data/nope 2>/dev/null && echo writable || echo read-only; \
        echo written > /out/result.txt; \
        grep -c ' /scratch tmpfs ' /proc/mounts; \
        tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '
        """
        let result = harness.strata(["run", "bb", "--", "sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "hi there|/bin|/srv/app|testhost\ninput\nread-only\n1\nlo\n", "\(result.stdout)")
        #expect(try harness.read("out/result.txt") == "written\n")
    }

    /// A file is bind-mounted onto a file (created when missing, shadowing one that exists),
    /// as `docker run -v FILE:FILE` does.
    @Test func fileBindMounts() throws {
        let harness = try busybox("""
        ,
          "mounts": [
            {"type": "bind", "source": "../conf/app.conf", "target": "/etc/app.conf", "readonly": true},
            {"type": "bind", "source": "../conf/passwd", "target": "/etc/passwd"}
          ]
        """)
        defer { harness.cleanup() }
        try harness.write("conf/app.conf", "key=value\n")
        try harness.write("conf/passwd", "root:x:0:0::/root:/bin/sh\n")
        let script = "cat /etc/app.conf /etc/passwd; echo x >> /etc/app.conf 2>/dev/null && echo writable || echo read-only"
        let result = harness.strata(["run", "bb", "--", "sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "key=value\nroot:x:0:0::/root:/bin/sh\nread-only\n", "\(result.stdout)")
    }

    /// `run ENV --opt -- CMD` would run `--opt` as the command after building with the
    /// option ignored; it is refused, naming where the option goes.
    @Test func optionsAfterTheEnvironmentAreRefused() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let result = harness.strata(["run", "bb", "--mirror", "http://127.0.0.1:1/", "--", "true"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("options go before the environment: `strata run --mirror http://127.0.0.1:1/ bb -- …`"), "\(result.stderr)")
    }

    @Test func hostNetworkIsShared() throws {
        let harness = try busybox(#", "network": "host""#)
        defer { harness.cleanup() }
        let inside = harness.strata(["run", "bb", "--", "sh", "-c", "tail -n +3 /proc/net/dev | wc -l"])
        let host = (try String(contentsOfFile: "/proc/net/dev", encoding: .utf8)).split(separator: "\n").count - 2
        #expect(inside.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(host)", "\(inside.stderr)")
    }

    @Test func pidNamespaceAndFreshProc() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let result = harness.strata(["run", "bb", "--", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"])
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first.map { Int($0)! <= 3 } == true, "the command is near PID 1: \(result.stdout)")
        #expect(lines.last.map { Int($0)! <= 4 } == true, "only the session's processes: \(result.stdout)")
    }

    @Test func sessionChangesStayInTheSession() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let first = harness.strata(["run", "bb", "--", "sh", "-c", "echo new > /bin/created; rm /etc/passwd; echo changed > /etc/group"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = harness.strata(["run", "bb", "--", "sh", "-c", "ls /bin/created 2>&1; cat /etc/passwd | head -1; cat /etc/group | head -1"])
        #expect(second.stdout.contains("No such file"), "\(second.stdout)")
        #expect(second.stdout.contains("root:x:0:0"), "\(second.stdout)")
        #expect(second.stdout.contains("root:x:0:\n"), "\(second.stdout)")
        let layers = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/layers")
        for layer in layers where FileManager.default.fileExists(atPath: harness.store + "/layers/\(layer)/etc") {
            #expect(FileManager.default.fileExists(atPath: harness.store + "/layers/\(layer)/etc/passwd"))
            #expect(!FileManager.default.fileExists(atPath: harness.store + "/layers/\(layer)/bin/created"))
        }
        let sessions = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/sessions")
        #expect(sessions.isEmpty, "sessions are removed after run: \(sessions)")
        let locks = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/locks")
        #expect(!locks.contains { $0.hasPrefix("session-") }, "no lock file per run is left behind: \(locks)")
    }

    @Test func keptSessionSurvives() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let result = harness.strata(["run", "--name", "kept", "bb", "--", "sh", "-c", "echo data > /root/file"])
        #expect(result.status == 0, "\(result.stderr)")
        let sessions = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/sessions")
        #expect(sessions.count == 1)
        let upper = harness.store + "/sessions/\(sessions[0])/upper/root/file"
        #expect((try? String(contentsOfFile: upper, encoding: .utf8)) == "data\n")
        let again = harness.strata(["run", "--name", "kept", "bb", "--", "true"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
    }

    @Test func buildCachesLayers() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let first = harness.strata(["build", "bb"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("sha256:"))
        let layers = harness.store + "/layers"
        let before = try FileManager.default.attributesOfItem(atPath: layers)[.modificationDate] as? Date
        let second = harness.strata(["build", "bb"])
        #expect(second.stdout == first.stdout)
        let after = try FileManager.default.attributesOfItem(atPath: layers)[.modificationDate] as? Date
        #expect(before == after, "a cached build unpacks nothing")
    }
}

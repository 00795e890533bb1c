import Foundation
import Testing

/// `strata build`'s progress, through the real CLI: live on a terminal, plain in a pipe, JSON for tools.
@Suite struct BuildProgressTests {
    func environment(slow: Bool) throws -> Harness {
        let harness = try Harness()
        let wait = slow ? "; while [ ! -e /ready/go ]; do sleep 0.1; done" : ""
        try harness.write("ready-dir/.keep", "")
        try harness.manifest("steps", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"run": "echo first > /first"},
                   {"run": "echo working on it; echo still working\(wait); echo done > /second", "cache": ["/ready"]}]}
        """)
        return harness
    }

    @Test func aTerminalShowsTheRunningStepAndItsOutput() throws {
        guard TerminalSession.available else {
            Issue.record("tmux is not installed (scripts/setup installs it)")
            return
        }
        let harness = try environment(slow: true)
        defer { harness.cleanup() }
        #expect(harness.strata(["lock", "steps"]).status == 0)
        // The step waits for a file in its cache directory, which the test makes once it has seen the screen.
        // The exit status arrives by rename, so that it is never read half-written.
        let cache = harness.store + "/run-caches"
        let out = harness.project + "/ready-dir"
        let inner = "STRATA_ROOT='\(harness.store)' TERM=xterm '\(Harness.binary)' build steps; echo $? > \(out)/exit.tmp; mv \(out)/exit.tmp \(out)/exit; sleep 60"
        guard let terminal = TerminalSession.start(inner, in: harness.project, columns: 120) else {
            Issue.record("tmux did not start")
            return
        }
        defer { terminal.close() }
        func screen() -> String { terminal.screen }
        let seen = terminal.waitForScreen { $0.contains("[2/2] run: echo working on it") && $0.contains("still working") }
        #expect(seen, "the running step and its output are not on the screen: \(screen())")
        #expect(screen().contains("[1/2] run: echo first > /first: done"))
        // Release the step through its cache directory (the same for every step naming /ready).
        let caches = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
        for entry in caches { FileManager.default.createFile(atPath: cache + "/" + entry + "/data/go", contents: Data()) }
        #expect(Harness.waitFor(out + "/exit"), "\(screen())")
        #expect(try harness.read("ready-dir/exit") == "0\n")
        _ = terminal.waitForScreen("built: 2 steps run")
        let final = screen()
        #expect(final.contains("[2/2] run: echo working on it; echo still working") && final.contains("built: 2 steps run, 0 cached"), "\(final)")
    }

    @Test func aPipeGetsPlainLinesAndJSONParses() throws {
        let harness = try environment(slow: false)
        defer { harness.cleanup() }
        let plain = harness.strata(["build", "steps"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!plain.stderr.contains("\u{1B}"), "no escape sequences in a pipe: \(plain.stderr)")
        #expect(plain.stderr.contains("[2/2] | working on it\n[2/2] | still working\n"), "\(plain.stderr)")
        #expect(plain.stderr.contains("built: 2 steps run, 0 cached"))

        try harness.manifest("steps", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"run": "echo first > /first"}, {"run": "echo again; echo again > /second"}]}
        """)
        let json = harness.strata(["build", "steps", "--progress=json"])
        #expect(json.status == 0, "\(json.stderr)")
        let events = json.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        #expect(events.compactMap { $0["event"] as? String } == ["cached", "started", "output", "done", "finished"], "\(json.stderr)")
        #expect(events.first?["step"] as? Int == 1 && events.first?["total"] as? Int == 2)

        let quiet = harness.strata(["build", "steps", "-q", "--no-cache"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("[1/2]"), "\(quiet.stderr)")
        let before = harness.strata(["build", "--quiet", "--progress=plain", "steps"])
        #expect(before.status == 0 && before.stdout.hasPrefix("sha256:"), "options before the environment too: \(before.stderr)")
        for bad in [["--progress=bogus", "steps"], ["--keep", "/tmp/x", "steps"], ["steps", "extra"], ["--nosuch", "steps"]] {
            let refused = harness.strata(["build"] + bad)
            #expect(refused.status == 2 && refused.stderr.hasPrefix("strata: "), "\(bad): \(refused.stderr)")
        }
    }
}

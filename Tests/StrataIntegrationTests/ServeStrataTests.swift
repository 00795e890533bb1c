import Foundation
import StrataJSON
import Testing

/// strata's own side of `strata serve`: the CLI through a daemon (`STRATA_HOST`) giving
/// what it gives without one, and `/strata/environments/…` with its OpenAPI document.
@Suite(.serialized) struct ServeStrataTests {
    func fixture() throws -> ServeFixture {
        guard ServeFixture.dockerCLI != nil else { throw ServeFailure("the docker CLI is not installed") }
        let serve = try ServeFixture()
        try serve.harness.manifest("bb", busyboxManifest)
        return serve
    }

    @Test func theCLIThroughTheDaemonGivesTheDaemonlessResults() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let remote = ["STRATA_HOST": "unix://" + serve.socket]
        // Each command twice, daemonless then through the daemon, on the same state: so the
        // lockfile is written first (a second lock says "up to date" either way).
        #expect(serve.harness.strata(["lock", "bb"]).status == 0)
        let commands: [([String], String?)] = [
            (["lock", "bb"], nil),
            (["run", "bb", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], nil),
            (["run", "bb", "--", "tr", "a-z", "A-Z"], "piped\n"),
            (["run", "--name", "kept", "bb", "--", "sh", "-c", "echo x > /made"], nil),
            (["diff", "kept"], nil),
            (["images"], nil),
            (["volume", "ls"], nil),
            (["run", "bb", "--", "no-such-command"], nil),
            (["no-such-subcommand"], nil),
        ]
        for (arguments, input) in commands {
            let direct = serve.harness.strata(arguments, stdin: input)
            if arguments.first == "run", arguments.contains("--name") { #expect(serve.harness.strata(["rm", "kept"]).status == 0) }
            let through = serve.harness.strata(arguments, env: remote, stdin: input)
            #expect(through.status == direct.status, "\(arguments): \(through.status) vs \(direct.status): \(through.stderr)")
            #expect(through.stdout == direct.stdout, "\(arguments)")
            #expect(through.stderr == direct.stderr, "\(arguments)")
        }
        // A session made through the daemon is the store's, as daemonless strata and docker see it.
        #expect(serve.harness.strata(["sessions", "-q"]).stdout.contains("kept") || serve.harness.strata(["sessions"]).stdout.contains("kept"))
        #expect(serve.docker(["ps", "-a", "--format", "{{.Names}}"]).stdout == "kept\n")

        let wrong = serve.harness.strata(["images"], env: ["STRATA_HOST": "tcp://127.0.0.1:1"])
        #expect(wrong.status == 2 && wrong.stderr.contains("is not a daemon address"), "\(wrong.stderr)")
        let absent = serve.harness.strata(["images"], env: ["STRATA_HOST": "unix:///nonexistent/strata.sock"])
        #expect(absent.status == 125 && absent.stderr.contains("cannot reach the daemon"), "\(absent.stderr)")
    }

    @Test func environmentEndpointsAndTheirOpenAPIDocument() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let document = serve.curl(["-s", "http://d/strata/openapi.json"])
        let parsed = try JSON.parse(Array(document.stdout.utf8))
        #expect(parsed["openapi"]?.stringValue == "3.0.3")
        let paths = parsed["paths"]?.objectValue?.keys.sorted() ?? []
        #expect(paths == ["/strata/cli", "/strata/environments/build", "/strata/environments/lock", "/strata/environments/run", "/strata/openapi.json"])

        let manifest = serve.harness.project + "/envs/bb.json"
        let lock = serve.curl(["-s", "-X", "POST", "--data-binary", "{\"path\": \"\(manifest)\"}", "http://d/strata/environments/lock"])
        let locked = try JSON.parse(Array(lock.stdout.utf8))
        #expect(locked["lockfile"]?.stringValue == serve.harness.project + "/lockfiles/bb.lock.json", "\(lock.stdout)")
        #expect(locked["written"] == .bool(true))
        #expect(FileManager.default.contents(atPath: serve.harness.project + "/lockfiles/bb.lock.json").map { try? JSON.parse(Array($0)) } == locked["lock"])

        let build = serve.curl(["-s", "-X", "POST", "--data-binary", "{\"path\": \"\(manifest)\"}", "http://d/strata/environments/build"])
        let built = try JSON.parse(Array(build.stdout.utf8))
        let direct = serve.harness.strata(["build", "-q", "bb"])
        #expect(built["snapshot"]?.stringValue == direct.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(build.stdout) \(direct.stdout)")

        let run = serve.curl(["-s", "-X", "POST", "--data-binary",
                              "{\"manifest\": {\"from\": {\"image\": \"busybox:latest\"}}, \"name\": \"inline\", \"command\": [\"sh\", \"-c\", \"cat; echo two >&2; exit 4\"], \"stdin\": \"one\\n\"}",
                              "http://d/strata/environments/run"])
        let events = try run.stdout.split(separator: "\n").map { try JSON.parse(Array($0.utf8)) }
        let stdout = events.filter { $0["stream"]?.stringValue == "stdout" }.compactMap { $0["data"]?.stringValue }.joined()
        #expect(stdout == "one\n", "\(run.stdout)")
        #expect(events.contains { $0["stream"]?.stringValue == "stderr" && $0["data"]?.stringValue?.contains("two") == true }, "\(run.stdout)")
        #expect(events.last?["exitCode"] == .int(4), "\(run.stdout)")

        let missing = serve.curl(["-s", "-w", "\n%{http_code}", "-X", "POST", "--data-binary", "{}", "http://d/strata/environments/build"])
        #expect(missing.stdout.hasSuffix("\n400") && missing.stdout.contains("give the environment"), "\(missing.stdout)")
        let relative = serve.curl(["-s", "-w", "\n%{http_code}", "-X", "POST", "--data-binary", "{\"path\": \"envs/bb.json\"}", "http://d/strata/environments/lock"])
        #expect(relative.stdout.hasSuffix("\n400"), "\(relative.stdout)")
    }

    @Test func anInteractiveShellThroughTheDaemon() throws {
        guard TerminalSession.available else { throw ServeFailure("tmux is not installed") }
        let serve = try fixture()
        defer { serve.cleanup() }
        #expect(serve.harness.strata(["lock", "bb"]).status == 0)
        let line = "STRATA_ROOT=/nonexistent STRATA_HOST=unix://\(serve.socket) \(Harness.binary) shell bb"
        try serve.driveShell(line, rows: 25, columns: 90, exitCode: 4)
    }
}

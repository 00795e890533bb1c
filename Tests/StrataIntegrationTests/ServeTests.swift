import Foundation
import StrataJSON
import StrataHostTestSupport
import Testing

/// `strata serve` driven by the real docker CLI: the everyday commands, their streams and
/// exit codes, as Docker's own daemon would answer them.
@Suite(.serialized) struct ServeTests {
    func fixture() throws -> ServeFixture {
        guard ServeFixture.dockerCLI != nil else { throw ServeFailure("the docker CLI is not installed (scripts/setup installs docker.io's client)") }
        return try ServeFixture()
    }

    @Test func versionInfoImagesAndPs() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let version = serve.docker(["version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}"])
        #expect(version.status == 0, "\(version.stderr)")
        #expect(version.stdout == "1.44 1.24 linux\n")
        let headers = serve.curl(["-s", "-D", "-", "-o", "/dev/null", "http://d/v1.44/_ping"]).stdout.lowercased()
        for header in ["api-version: 1.44", "ostype: linux", "docker-experimental: false", "server: strata/"] {
            #expect(headers.contains(header), "\(headers)")
        }
        #expect(serve.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "http://d/_ping"]).stdout == "200")
        #expect(serve.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://d/v1.99/_ping"]).stdout == "400")
        let info = serve.docker(["info", "--format", "{{.OSType}} {{.Images}} {{.Containers}}"])
        #expect(info.stdout == "linux 1 0\n", "\(info.stderr)")
        let images = serve.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        #expect(images.stdout == "busybox:latest\n", "\(images.stderr)")
        let ps = serve.docker(["ps", "-a", "--format", "{{.Names}}"])
        #expect(ps.status == 0 && ps.stdout == "", "\(ps.stderr)")
    }

    @Test func runKeepsStreamsApartAndReturnsTheExitCode() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let run = serve.docker(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(run.status == 3, "\(run.stderr)")
        #expect(run.stdout == "out\n")
        #expect(run.stderr == "err\n")
        // --rm: the container is gone once docker run returns.
        #expect(serve.docker(["ps", "-aq"]).stdout == "")
        #expect(serve.harness.strata(["sessions", "-q"]).stdout == "")
        // A command that ends at once still leaves its exit code and times for inspect.
        for round in 0..<5 {
            #expect(serve.docker(["run", "--name", "fast-\(round)", "busybox", "sh", "-c", "exit 3"]).status == 3)
            let state = serve.docker(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "fast-\(round)"])
            #expect(state.stdout == "exited 3\n", "round \(round): \(state.stdout) \(state.stderr)")
            #expect(serve.docker(["rm", "fast-\(round)"]).status == 0)
        }

        let piped = serve.docker(["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo end"], stdin: "piped in\n")
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout == "PIPED IN\nend\n")

        let missing = serve.docker(["run", "--rm", "busybox", "no-such-command"])
        #expect(missing.status == 127, "\(missing.stderr)")
        #expect(missing.stderr.contains("executable file not found"), "\(missing.stderr)")
        let directory = serve.docker(["run", "--rm", "busybox", "/etc"])
        #expect(directory.status == 126, "\(directory.stderr)")
        let image = serve.docker(["run", "--rm", "--pull", "never", "no-such-image"])
        #expect(image.status == 125, "\(image.stderr)")
        #expect(image.stderr.contains("No such image: no-such-image:latest"), "\(image.stderr)")
        #expect(serve.docker(["ps", "-aq"]).stdout == "")
    }

    @Test func detachedContainersLogFollowStopAndRemove() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let started = serve.docker(["run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                                    "echo first; echo oops >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"])
        #expect(started.status == 0, "\(started.stderr)")
        let id = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!id.isEmpty)
        #expect(serve.docker(["ps", "--format", "{{.Names}} {{.Status}}"]).stdout.hasPrefix("ticker Up "))
        // `strata sessions` sees the same container: it is a kept session of the store.
        #expect(serve.harness.strata(["sessions"]).stdout.contains("ticker"))
        #expect(ServeFixture.eventually { serve.docker(["logs", "ticker"]).stdout.contains("tick 2\n") })
        let logs = serve.docker(["logs", "ticker"])
        #expect(logs.stdout.hasPrefix("first\ntick 0\n"), "\(logs.stdout)")
        #expect(logs.stderr == "oops\n")
        // Daemonless strata reads the same log.
        #expect(serve.harness.strata(["logs", "ticker"]).stdout.hasPrefix("first\noops\ntick 0\n") || serve.harness.strata(["logs", "ticker"]).stdout.hasPrefix("first\ntick 0\n"))
        let tail = serve.docker(["logs", "--tail", "1", "-t", "ticker"])
        #expect(tail.stdout.split(separator: "\n").count == 1 && tail.stdout.contains("Z tick "), "\(tail.stdout)")

        // logs -f follows until the container stops.
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: ServeFixture.dockerCLI!)
        follower.arguments = ["logs", "-f", "ticker"]
        follower.environment = serve.environment
        let followedPath = serve.harness.project + "/followed"
        _ = FileManager.default.createFile(atPath: followedPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: followedPath))
        follower.standardOutput = output
        follower.standardError = FileHandle.nullDevice
        try follower.run()
        // Following: what it printed so far has the history and then lines written since.
        #expect(ServeFixture.eventually { ((try? String(contentsOfFile: followedPath, encoding: .utf8)) ?? "").split(separator: "\n").count >= 6 })
        let stop = serve.docker(["stop", "-t", "2", "ticker"])
        #expect(stop.status == 0 && stop.stdout == "ticker\n", "\(stop.stderr)")
        follower.waitUntilExit()
        let followed = (try? String(contentsOfFile: followedPath, encoding: .utf8)) ?? ""
        #expect(followed.hasPrefix("first\ntick 0\n") && followed.split(separator: "\n").count >= 4, "\(followed)")
        #expect(follower.terminationStatus == 0)

        let state = serve.docker(["inspect", "--format", "{{.State.Status}} {{.State.Running}}", "ticker"])
        #expect(state.stdout == "exited false\n", "\(state.stderr)")
        #expect(serve.docker(["stop", "ticker"]).status == 0, "stopping a stopped container is fine (304)")
        // A stopped container starts again, on its kept changes.
        #expect(serve.docker(["start", "ticker"]).status == 0)
        #expect(serve.docker(["inspect", "--format", "{{.State.Running}}", "ticker"]).stdout == "true\n")
        let refused = serve.docker(["rm", "ticker"])
        #expect(refused.status != 0 && refused.stderr.contains("container is running"), "\(refused.stderr)")
        #expect(serve.docker(["rm", "-f", "ticker"]).stdout == "ticker\n")
        #expect(serve.docker(["ps", "-aq"]).stdout == "")
        let gone = serve.docker(["logs", "ticker"])
        #expect(gone.status != 0 && gone.stderr.contains("No such container: ticker"), "\(gone.stderr)")
    }

    @Test func execIntoARunningContainer() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        #expect(serve.docker(["run", "-d", "--name", "box", "-e", "FROM_RUN=1", "busybox", "sleep", "300"]).status == 0)
        let exec = serve.docker(["exec", "box", "sh", "-c", "echo in $FROM_RUN; echo err >&2; exit 4"])
        #expect(exec.status == 4, "\(exec.stderr)")
        #expect(exec.stdout == "in 1\n")
        #expect(exec.stderr == "err\n")
        let input = serve.docker(["exec", "-i", "box", "wc", "-c"], stdin: "12345")
        #expect(input.stdout.trimmingCharacters(in: .whitespaces) == "5\n", "\(input.stderr)")
        let settings = serve.docker(["exec", "-e", "A=b", "-w", "/tmp", "-u", "65534", "box", "sh", "-c", "echo $A $(pwd) $(id -u)"])
        #expect(settings.stdout == "b /tmp 65534\n", "\(settings.stderr)")
        let missing = serve.docker(["exec", "box", "no-such-command"])
        #expect(missing.status == 127, "\(missing.stderr)")
        // What exec wrote is in the container's session, as a commit would see it.
        #expect(serve.docker(["exec", "box", "sh", "-c", "echo made > /made"]).status == 0)
        #expect(serve.harness.strata(["diff", "box"]).stdout.contains("/made"))
        #expect(serve.docker(["rm", "-f", "box"]).status == 0)
        let stopped = serve.docker(["exec", "box", "true"])
        #expect(stopped.status != 0 && stopped.stderr.contains("No such container"), "\(stopped.stderr)")
    }

    @Test func commitTagAndRemoveImages() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        #expect(serve.docker(["run", "--name", "maker", "busybox", "sh", "-c", "echo made > /etc/made"]).status == 0)
        let commit = serve.docker(["commit", "maker", "made:1"])
        #expect(commit.status == 0 && commit.stdout.hasPrefix("sha256:"), "\(commit.stderr)")
        #expect(serve.docker(["run", "--rm", "made:1", "cat", "/etc/made"]).stdout == "made\n")
        #expect(serve.docker(["tag", "made:1", "team/made:2"]).status == 0)
        // The docker CLI orders the tags of one image as it likes: compared as a set of lines.
        #expect(serve.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout.split(separator: "\n").sorted()
                == ["busybox:latest", "made:1", "team/made:2"])
        // The daemonless CLI sees the same images.
        #expect(serve.harness.strata(["images"]).stdout.contains("team/made:2"))
        let untag = serve.docker(["rmi", "team/made:2"])
        #expect(untag.stdout == "Untagged: team/made:2\n", "\(untag.stderr)")
        let remove = serve.docker(["rmi", "made:1"])
        #expect(remove.stdout.hasPrefix("Untagged: made:1\nDeleted: sha256:"), "\(remove.stderr)")
        let missing = serve.docker(["rmi", "made:1"])
        #expect(missing.status != 0 && missing.stderr.contains("No such image: made:1"), "\(missing.stderr)")
        #expect(serve.docker(["rm", "maker"]).status == 0)
    }

    @Test func volumesOutliveContainers() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        #expect(serve.docker(["volume", "create", "data"]).stdout == "data\n")
        #expect(serve.docker(["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]).stdout == "data local\n")
        #expect(serve.docker(["run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/file"]).status == 0)
        #expect(serve.docker(["run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/file"]).stdout == "kept\n")
        #expect(serve.harness.strata(["volume", "ls", "-q"]).stdout == "data\n")
        let bind = serve.harness.project + "/shared"
        try FileManager.default.createDirectory(atPath: bind, withIntermediateDirectories: true)
        #expect(serve.docker(["run", "--rm", "-v", bind + ":/shared", "busybox", "sh", "-c", "echo host > /shared/f"]).status == 0)
        #expect((try? String(contentsOfFile: bind + "/f", encoding: .utf8)) == "host\n")
        #expect(serve.docker(["volume", "rm", "data"]).stdout == "data\n")
        #expect(serve.docker(["volume", "ls", "-q"]).stdout == "")
        let missing = serve.docker(["volume", "inspect", "data"])
        #expect(missing.status != 0 && missing.stderr.contains("no such volume"), "\(missing.stderr)")
    }

    @Test func aTerminalWithPromptInterruptAndResize() throws {
        guard TerminalSession.available else { throw ServeFailure("tmux is not installed") }
        let serve = try fixture()
        defer { serve.cleanup() }
        let line = "DOCKER_HOST=unix://\(serve.socket) DOCKER_CONFIG=\(serve.dockerConfig) \(ServeFixture.dockerCLI!) run --rm -it busybox sh"
        try serve.driveShell(line, rows: 30, columns: 100, exitCode: 9)
    }

    @Test func gcRemovesWhatOnlyRemovedContainersUsed() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        #expect(serve.docker(["run", "--rm", "busybox", "true"]).status == 0)
        #expect(serve.docker(["run", "--name", "kept", "busybox", "true"]).status == 0)
        #expect(serve.docker(["rmi", "busybox"]).status == 0)
        let envs = serve.harness.store + "/containers/envs"
        // A container that stays keeps its settings and what it stands on.
        let first = serve.harness.strata(["gc"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: envs)) ?? []).count == 1)
        #expect(serve.docker(["start", "-a", "kept"]).status == 0, "the kept container still runs after gc")
        #expect(serve.docker(["rm", "kept"]).status == 0)
        let second = serve.harness.strata(["gc"])
        #expect(second.stdout.contains("container settings"), "\(second.stdout)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: envs)) ?? []) == [])
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: serve.harness.store + "/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "no container, tag or lockfile keeps busybox now: \(blobs)")
    }

    @Test(.sharedHostCgroups) func hostConfigBecomesTheSessionsConfinement() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        func run(_ flags: [String], _ script: String) -> Harness.Result {
            serve.docker(["run", "--rm"] + flags + ["busybox", "sh", "-c", script])
        }
        #expect(run(["--read-only"], "touch /x").status != 0, "--read-only")
        #expect(run(["--read-only"], "touch /tmp/x").status == 0, "/tmp stays writable")
        #expect(run(["-u", "65534:65534", "-w", "/tmp", "-e", "A=1", "--hostname", "boxy"], "echo $(id -u) $(pwd) $A $(hostname)").stdout
                == "65534 /tmp 1 boxy\n")
        #expect(run(["--network", "none"], "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '").stdout == "lo\n")
        #expect(run(["--cap-drop", "ALL"], "grep CapEff /proc/self/status").stdout == "CapEff:\t0000000000000000\n")
        #expect(run(["--security-opt", "seccomp=unconfined"], "grep '^Seccomp:' /proc/self/status").stdout == "Seccomp:\t0\n")
        #expect(run([], "grep '^Seccomp:' /proc/self/status").stdout == "Seccomp:\t2\n", "Docker's profile by default")
        let memory = run(["--memory", "32m"], "dd if=/dev/zero of=/dev/null bs=200M count=1")
        #expect(memory.status == 137, "out of memory: \(memory.stderr)")
        let pids = run(["--pids-limit", "20"], "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo loop-ended")
        #expect(pids.stdout.contains("Resource temporarily unavailable") || pids.stderr.contains("Resource temporarily unavailable"),
                "\(pids.stdout) \(pids.stderr)")
        #expect(run(["--cpus", "0.5"], "echo limited").stdout == "limited\n")
        let published = serve.docker(["run", "--rm", "-p", "8080:80", "busybox", "true"])
        #expect(published.status == 125 && published.stderr.contains("publishes no ports"), "\(published.stderr)")
    }

    @Test func killRestartAndEvents() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let events = Process()
        events.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        events.arguments = ["-sN", "--unix-socket", serve.socket, "--max-time", "8", "http://d/events"]
        let eventsPath = serve.harness.project + "/events"
        _ = FileManager.default.createFile(atPath: eventsPath, contents: nil)
        events.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: eventsPath))
        try events.run()
        // Subscribed once a volume's creation shows in the stream.
        #expect(ServeFixture.eventually {
            _ = serve.docker(["volume", "create", "probe"])
            return ((try? String(contentsOfFile: eventsPath, encoding: .utf8)) ?? "").contains("probe")
        })
        #expect(serve.docker(["run", "-d", "--name", "k", "busybox", "sh", "-c",
                              "trap 'echo got-usr1' USR1; echo trapping; while true; do sleep 0.1; done"]).status == 0)
        #expect(ServeFixture.eventually { serve.docker(["logs", "k"]).stdout.contains("trapping") })
        #expect(serve.docker(["kill", "-s", "USR1", "k"]).status == 0)
        #expect(ServeFixture.eventually { serve.docker(["logs", "k"]).stdout.contains("got-usr1") })
        #expect(serve.docker(["restart", "-t", "1", "k"]).status == 0)
        #expect(serve.docker(["inspect", "--format", "{{.State.Running}}", "k"]).stdout == "true\n")
        #expect(serve.docker(["kill", "k"]).status == 0)
        #expect(ServeFixture.eventually {
            serve.docker(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "k"]).stdout == "exited 137\n"
        })
        let notRunning = serve.docker(["kill", "k"])
        #expect(notRunning.status != 0 && notRunning.stderr.contains("is not running"), "\(notRunning.stderr)")
        #expect(serve.docker(["rm", "k"]).status == 0)
        #expect(ServeFixture.eventually { ((try? String(contentsOfFile: eventsPath, encoding: .utf8)) ?? "").contains("\"destroy\"") })
        events.terminate()
        events.waitUntilExit()
        let lines = ((try? String(contentsOfFile: eventsPath, encoding: .utf8)) ?? "").split(separator: "\n")
        let actions = lines.compactMap { (try? JSON.parse(Array($0.utf8)))?["Action"]?.stringValue }
        for action in ["create", "start", "die", "destroy"] { #expect(actions.contains(action), "\(actions)") }
    }
}

import Foundation
import Glibc
import Testing

/// `strata gc` and `strata prune` through the CLI: what a shell stands on survives them
/// (Nix's gc broke devbox shells: devbox#1851), and they never race a build.
@Suite struct GCTests {
    func harness() throws -> Harness {
        let harness = try Harness()
        try harness.write("files/tool", "#!/bin/sh\necho tool\n")
        try harness.write("ready/.keep", "")
        try harness.manifest("bb", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"copy": {"from": "../files", "to": "/opt"}}],
         "mounts": [{"type": "bind", "source": "../ready", "target": "/ready"}]}
        """)
        return harness
    }

    func layers(_ harness: Harness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/layers")) ?? []).sorted()
    }

    @Test func runningAndKeptSessionsKeepWhatTheyStandOn() throws {
        let harness = try harness()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "kept", "bb", "--", "sh", "-c", "echo kept > /k"]).status == 0)
        let live = try harness.start(["run", "--name", "live", "bb", "--", "sh", "-c",
                                      "touch /ready/up; while [ ! -e /ready/stop ]; do sleep 0.05; done; sh /opt/tool"])
        #expect(Harness.waitFor(harness.project + "/ready/up"))
        let built = layers(harness)
        // Away while gc runs, so that only the sessions keep the layers; back for exec and
        // shell, which read the environment's settings from it.
        let lockfile = harness.project + "/lockfiles/bb.lock.json"
        try FileManager.default.moveItem(atPath: lockfile, toPath: harness.project + "/bb.lock.json")

        let dry = harness.strata(["gc", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let gc = harness.strata(["gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout == dry.stdout.replacingOccurrences(of: "would free", with: "freed"), "a dry run lists what gc removes")
        #expect(!gc.stdout.contains("layer "), "\(gc.stdout)")
        #expect(layers(harness) == built)
        try FileManager.default.moveItem(atPath: harness.project + "/bb.lock.json", toPath: lockfile)
        let exec = harness.strata(["exec", "live", "--", "sh", "-c", "cat /bin/busybox > /dev/null && sh /opt/tool"])
        #expect(exec.stdout == "tool\n", "the running session still has its layers: \(exec.stdout) \(exec.stderr)")
        FileManager.default.createFile(atPath: harness.project + "/ready/stop", contents: nil)
        live.waitUntilExit()
        #expect(live.terminationStatus == 0)
        let again = harness.strata(["shell", "--session", "kept"], stdin: "cat /k; sh /opt/tool\n")
        #expect(again.stdout == "kept\ntool\n", "the kept session can be entered again: \(again.stdout) \(again.stderr)")

        // rm leaves the objects to gc; then nothing is left of the environment.
        #expect(harness.strata(["rm", "live", "kept"]).status == 0)
        #expect(layers(harness) == built)
        try FileManager.default.removeItem(atPath: lockfile)
        let last = harness.strata(["gc"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(last.stdout.contains("layer ") && last.stdout.contains("freed "), "\(last.stdout)")
        #expect(layers(harness).isEmpty)
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "\(blobs)")
        #expect(harness.strata(["gc"]).stdout == "nothing to remove\n")
    }

    /// gc never removes a layer a build is about to use: each round makes the environment's
    /// layers garbage (its lockfile gone), then runs gc and a fresh lock+build+run at once.
    @Test func gcNeverRacesABuild() throws {
        let harness = try harness()
        defer { harness.cleanup() }
        #expect(harness.strata(["build", "bb"]).status == 0)
        for round in 0..<50 {
            unlink(harness.project + "/lockfiles/bb.lock.json")
            let gc = try harness.start(["gc"])
            let run = harness.strata(["run", "bb", "--", "sh", "/opt/tool"])
            gc.waitUntilExit()
            #expect(run.status == 0 && run.stdout == "tool\n", "round \(round): \(run.stderr)")
            #expect(gc.terminationStatus == 0, "round \(round)")
            if run.status != 0 || gc.terminationStatus != 0 { break }
        }
        #expect(harness.strata(["gc", "--dry-run"]).stdout.contains("layer ") == false, "the built environment is a root again")
    }

    /// 16 runs, 4 builds (two of one environment) and a gc at once on one store: all succeed,
    /// and each layer is unpacked by exactly one of them (the json progress says `done` once
    /// per layer across all processes, `cached` everywhere else).
    @Test func runsBuildsAndGCAtOnce() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.write("shared/tool", "#!/bin/sh\necho tool\n")
        for name in ["a", "b", "c"] {
            try harness.write("\(name)/file", "\(name)\n")
            try harness.manifest(name, """
            {"project": false, "from": {"image": "oci:../images/busybox:latest"},
             "steps": [{"copy": {"from": "../shared", "to": "/opt"}}, {"copy": {"from": "../\(name)", "to": "/\(name)"}}]}
            """)
            #expect(harness.strata(["lock", name]).status == 0)
        }
        var processes: [(Process, Pipe, String)] = []
        for index in 0..<16 {
            let name = ["a", "b", "c"][index % 3]
            processes.append(try startCapturing(harness, ["run", "--progress", "json", name, "--", "sh", "-c", "sh /opt/tool && cat /\(name)/file"]))
        }
        for name in ["a", "a", "b", "c"] { processes.append(try startCapturing(harness, ["build", "--progress", "json", name])) }
        processes.append(try startCapturing(harness, ["gc"]))
        var done: [String: Int] = [:]
        for (process, errors, label) in processes {
            let output = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(label): \(String(decoding: output, as: UTF8.self))")
            for line in String(decoding: output, as: UTF8.self).split(separator: "\n") where line.contains("\"event\":\"done\"") {
                let summary = line.components(separatedBy: "\"summary\":\"").last?.components(separatedBy: "\"").first ?? String(line)
                done[summary, default: 0] += 1
            }
        }
        #expect(done == ["copy: ../shared /opt": 1, "copy: ../a /a": 1, "copy: ../b /b": 1, "copy: ../c /c": 1], "\(done)")
        #expect(harness.strata(["fsck"]).status == 0)
    }

    /// Starts strata with its stderr captured (for the json progress).
    func startCapturing(_ harness: Harness, _ arguments: [String]) throws -> (Process, Pipe, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: harness.project)
        process.environment = ["PATH": "/usr/bin:/bin", "STRATA_ROOT": harness.store]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors, arguments.joined(separator: " "))
    }

    @Test func pruneRemovesStoppedUnnamedSessionsAndUntaggedImages() throws {
        let harness = try harness()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--keep", "bb", "--", "true"]).status == 0)
        #expect(harness.strata(["run", "--name", "named", "bb", "--", "true"]).status == 0)
        #expect(harness.strata(["image", "import", "images/busybox-rootfs.tar.gz", "loose:1"]).status == 0)
        #expect(harness.strata(["image", "import", "images/busybox-rootfs.tar.gz", "kept:1"]).status == 0)
        // An entry without a tag, as another tool writing the layout may leave: Docker's dangling image.
        let indexPath = harness.store + "/index.json"
        var index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexPath))) as? [String: Any] ?? [:]
        var manifests = index["manifests"] as? [[String: Any]] ?? []
        let loose = manifests.firstIndex { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == "loose:1" }
        if let loose { manifests[loose]["annotations"] = nil }
        index["manifests"] = manifests
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: indexPath))
        let sessionsBefore = harness.strata(["sessions", "-q"]).stdout.split(separator: "\n")
        #expect(sessionsBefore.count == 2)

        let refused = harness.strata(["prune"], stdin: "n\n")
        #expect(refused.status == 1 && refused.stderr.contains("nothing removed"), "\(refused.stderr)")
        #expect(harness.strata(["sessions", "-q"]).stdout.split(separator: "\n").count == 2)

        let pruned = harness.strata(["prune", "-f"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("removed session ") && pruned.stdout.contains("removed untagged image sha256:"), "\(pruned.stdout)")
        let sessions = harness.strata(["sessions", "--json"])
        #expect(sessions.stdout.contains("\"named\""), "\(sessions.stdout)\(sessions.stderr)")
        #expect(harness.strata(["sessions", "-q"]).stdout.split(separator: "\n").count == 1)
        #expect(harness.strata(["images", "-q"]).stdout.split(separator: "\n").count == 1, "kept:1 stays")
        #expect(harness.strata(["shell", "--session", "named"], stdin: "sh /opt/tool\n").stdout == "tool\n")
    }
}

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

import Foundation
import StrataJSON
import Testing

/// Named volumes through the CLI: data that outlives sessions, `strata volume ls|create|inspect|rm`.
@Suite struct VolumeTests {
    func harness(volume: String = "cache") throws -> Harness {
        let harness = try Harness()
        try harness.manifest("bb", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"},
         "mounts": [{"type": "volume", "name": "\(volume)", "target": "/var/cache/app"}]}
        """)
        try harness.write("ready-dir/.keep", "")
        try harness.manifest("held", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"},
         "mounts": [{"type": "volume", "name": "\(volume)", "target": "/var/cache/app"},
                    {"type": "bind", "source": "../ready-dir", "target": "/ready"}]}
        """)
        return harness
    }

    @Test func dataOutlivesSessionsAndStaysOutOfTheUpperDir() throws {
        let harness = try harness()
        defer { harness.cleanup() }
        let first = harness.strata(["run", "--name", "one", "bb", "--", "sh", "-c", "echo kept > /var/cache/app/data; stat -c %a /var/cache/app"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == "755\n", "a new volume is a 0755 directory, as Docker makes it")
        let second = harness.strata(["run", "bb", "--", "sh", "-c", "cat /var/cache/app/data; echo more >> /var/cache/app/data"])
        #expect(second.stdout == "kept\n", "\(second.stderr)")
        #expect(harness.strata(["run", "bb", "--", "cat", "/var/cache/app/data"]).stdout == "kept\nmore\n")

        let data = harness.store + "/volumes/cache/_data"
        #expect(FileManager.default.contents(atPath: data + "/data") == Data("kept\nmore\n".utf8))
        // The session's upper dir (what a commit archives) holds the mount point, not the data.
        let sessions = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/sessions")
        try #require(sessions.count == 1)
        let upperTarget = harness.store + "/sessions/" + sessions[0] + "/upper/var/cache/app"
        #expect((try? FileManager.default.contentsOfDirectory(atPath: upperTarget)) ?? [] == [])
        #expect(harness.strata(["diff", "one"]).stdout.contains("/var/cache/app/data") == false)

        let listed = harness.strata(["volume", "ls", "--json"])
        let parsed = try JSON.parse(Array(listed.stdout.utf8))
        #expect(parsed.arrayValue?.count == 1)
        #expect(parsed.arrayValue?.first?["name"] == .string("cache"))
        #expect(parsed.arrayValue?.first?["mountpoint"] == .string(data))
        #expect(parsed.arrayValue?.first?["sessions"] == .array([.string("one")]))
        #expect(harness.strata(["volume", "ls", "-q"]).stdout == "cache\n")
        let table = harness.strata(["volume", "ls"]).stdout.split(separator: "\n")
        #expect(table.count == 2 && table[1].hasPrefix("cache ") && table[1].hasSuffix(" one"), "\(table)")

        let inspected = harness.strata(["volume", "inspect", "cache"])
        #expect(inspected.status == 0)
        let volume = try JSON.parse(Array(inspected.stdout.utf8)).arrayValue?.first
        #expect(volume?["Name"] == .string("cache"))
        #expect(volume?["Mountpoint"] == .string(data))
        #expect(volume?["Driver"] == .string("local"))
        guard case .string(let created) = volume?["CreatedAt"] else { throw Failure("no CreatedAt: \(inspected.stdout)") }
        #expect(created.hasSuffix("Z") && created.count == 20)
    }

    @Test func removalIsRefusedWhileASessionMountsTheVolume() throws {
        let harness = try harness(volume: "db")
        defer { harness.cleanup() }
        let process = try harness.start(["run", "held", "--", "sh", "-c", "touch /ready/up; exec sleep 600"])
        defer { process.terminate(); process.waitUntilExit() }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: harness.project + "/ready-dir/up") && Date() < deadline { usleep(20_000) }

        let refused = harness.strata(["volume", "rm", "db"])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("strata: volume \"db\" is in use by session "), "\(refused.stderr)")
        #expect(refused.stderr.contains("stop the running one"), "\(refused.stderr)")
        #expect(harness.strata(["volume", "rm", "-f", "db"]).status == 1, "-f does not remove a volume in use, as in Docker")
        #expect(FileManager.default.fileExists(atPath: harness.store + "/volumes/db/_data"))

        process.terminate()
        process.waitUntilExit()
        // The unnamed session is gone with its command: nothing holds the volume now.
        let removed = harness.strata(["volume", "rm", "db"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout == "db\n")
        #expect(!FileManager.default.fileExists(atPath: harness.store + "/volumes/db"))

        // A kept session holds it too, as a stopped container holds a Docker volume.
        #expect(harness.strata(["run", "--name", "kept", "bb", "--", "true"]).status == 0)
        let held = harness.strata(["volume", "rm", "db"])
        #expect(held.stderr == "strata: volume \"db\" is in use by session \"kept\"; remove them first (`strata rm`)\n", "\(held.stderr)")
        #expect(harness.strata(["rm", "kept"]).status == 0)
        #expect(harness.strata(["volume", "rm", "db"]).status == 0)
    }

    @Test func createInspectAndRemoveByHand() throws {
        let harness = try harness()
        defer { harness.cleanup() }
        #expect(harness.strata(["volume", "create", "made"]).stdout == "made\n")
        #expect(harness.strata(["volume", "create", "made"]).status == 0, "creating an existing volume is not an error")
        let anonymous = harness.strata(["volume", "create"]).stdout
        #expect(anonymous.count == 65, "64 hex characters: \(anonymous)")
        #expect(harness.strata(["volume", "ls", "-q"]).stdout.split(separator: "\n").count == 2)

        let partly = harness.strata(["volume", "inspect", "made", "nope"])
        #expect(partly.status == 1)
        #expect(try JSON.parse(Array(partly.stdout.utf8)).arrayValue?.count == 1)
        #expect(partly.stderr == "strata: no volume named \"nope\"; `strata volume ls` lists them\n")

        let some = harness.strata(["volume", "rm", "nope", "made"])
        #expect(some.status == 1 && some.stdout == "made\n")
        #expect(harness.strata(["volume", "rm", "-f", "nope"]).status == 0, "-f: a missing volume is no error")
        let bad = harness.strata(["volume", "create", "-bad"])
        #expect(bad.status != 0)
        let badName = harness.strata(["volume", "create", "a/b"])
        #expect(badName.status == 1)
        #expect(badName.stderr.contains("\"a/b\" cannot be used: a volume name is [a-zA-Z0-9][a-zA-Z0-9_.-]*"), "\(badName.stderr)")
    }

    @Test func aBadVolumeInAManifestIsALocatedError() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bad", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "mounts": [{"type": "volume", "name": "../escape", "target": "/data"}]}
        """)
        let result = harness.strata(["run", "bad", "--", "true"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("envs/bad.json:2:40: mounts[0].name: \"../escape\" is not a valid volume name"), "\(result.stderr)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/volumes")) ?? [] == [])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

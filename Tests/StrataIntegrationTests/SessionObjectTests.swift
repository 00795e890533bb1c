import Foundation
import StrataJSON
import Testing

/// `strata sessions`/`ps`, `rm` and `diff` through the CLI, as a `docker ps`/`rm`/`diff` user expects them.
@Suite struct SessionObjectTests {
    func busybox() throws -> Harness {
        let harness = try Harness()
        try harness.manifest("bb", busyboxManifest)
        try harness.write("ready-dir/.keep", "")
        try harness.manifest("held", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "mounts": [{"type": "bind", "source": "../ready-dir", "target": "/ready"}]}
        """)
        return harness
    }

    func sessions(_ harness: Harness) throws -> [[String: JSONValue]] {
        let listed = harness.strata(["sessions", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        guard case .array(let items) = try JSON.parse(Array(listed.stdout.utf8)) else { throw Failure("not an array: \(listed.stdout)") }
        return try items.map { item in
            guard case .object(let fields) = item else { throw Failure("not an object: \(item)") }
            return fields
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test func namedRunIsListedAndRemoved() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let made = harness.strata(["run", "--name", "work", "bb", "--", "sh", "-c", "head -c 5000 /dev/zero > /root/blob"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(harness.strata(["run", "bb", "--", "true"]).status == 0, "an unnamed, unkept session is not listed")

        let listed = try sessions(harness)
        try #require(listed.count == 1)
        let work = listed[0]
        #expect(work["name"] == .string("work"))
        #expect(work["environment"] == .string("bb"))
        #expect(work["size"] == .int(5000))
        #expect(work["running"] == .bool(false))
        #expect(work["manifest"] == .string(harness.project + "/envs/bb.json"))
        #expect(work["volumes"] == .array([]))
        guard case .string(let id) = work["id"], case .string(let snapshot) = work["snapshot"], case .string(let created) = work["created"] else {
            throw Failure("id, snapshot and created are strings: \(work)")
        }
        #expect(snapshot.hasPrefix("sha256:") && snapshot.count == 71)
        #expect(created.hasSuffix("Z") && created.count == 20, "RFC 3339 in UTC: \(created)")

        let table = harness.strata(["ps"])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true)
            == ["ID", "NAME", "ENVIRONMENT", "SNAPSHOT", "CREATED", "SIZE", "STATUS"])
        #expect(lines.count == 2 && lines[1].hasPrefix(id) && lines[1].contains(" work ") && lines[1].contains("5.0 kB")
            && lines[1].hasSuffix("stopped") && lines[1].contains(String(snapshot.dropFirst(7).prefix(12))), "\(table.stdout)")
        #expect(harness.strata(["ps", "-q"]).stdout == id + "\n")

        let removed = harness.strata(["rm", "work"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout == "work\n")
        #expect(try sessions(harness).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: harness.store + "/sessions/" + id))
        #expect(harness.strata(["ps", "-q"]).stdout == "")
    }

    @Test func rmRefusesARunningSessionAndGoesOnAfterUnknownOnes() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "done", "bb", "--", "true"]).status == 0)
        let process = try harness.start(["run", "--name", "busy", "held", "--", "sh", "-c", "touch /ready/up; exec sleep 600"])
        defer { process.terminate(); process.waitUntilExit() }
        #expect(Harness.waitFor(harness.project + "/ready-dir/up"))

        let running = try sessions(harness).first { $0["name"] == .string("busy") }
        #expect(running?["running"] == .bool(true))
        #expect(harness.strata(["ps"]).stdout.split(separator: "\n").contains { $0.contains(" busy ") && $0.hasSuffix("running") })

        let refused = harness.strata(["rm", "busy", "nope", "done"])
        #expect(refused.status == 1)
        #expect(refused.stdout == "done\n", "the others are still removed")
        #expect(refused.stderr == """
        strata: session "busy" is in use by a running process; stop what runs in it first
        strata: no session named "nope"; `strata sessions` lists them

        """, "\(refused.stderr)")
        #expect(try sessions(harness).map { $0["name"] } == [.string("busy")])

        process.terminate()
        process.waitUntilExit()
        #expect(try sessions(harness).first?["running"] == .bool(false))
        #expect(harness.strata(["rm", "busy"]).status == 0)
        #expect(harness.strata(["rm"]).status == 2, "rm needs a session")
    }

    @Test func diffListsAddedChangedAndDeletedPaths() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let script = """
        rm /etc/group; echo extra >> /etc/passwd; mkdir -p /new/dir; echo x > /new/dir/file; \
        rm -rf /work; mkdir /work; touch /work/fresh; ln -s /etc/passwd /root/link
        """
        #expect(harness.strata(["run", "--name", "d", "bb", "--", "sh", "-c", script]).status == 0)
        let diff = harness.strata(["diff", "d"])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout == """
        C /etc
        D /etc/group
        C /etc/passwd
        A /new
        A /new/dir
        A /new/dir/file
        C /root
        A /root/link
        C /work
        A /work/fresh

        """, "\(diff.stdout)")
        let json = harness.strata(["diff", "--json", "d"])
        #expect(try JSON.parse(Array(json.stdout.utf8)).arrayValue?.first == .object(["kind": .string("C"), "path": .string("/etc")]))

        // A directory removed and made again is opaque in the upper dir: what it held is deleted.
        let replace = "rm -rf /etc; mkdir /etc; echo root:x:0:0::/root:/bin/sh > /etc/passwd"
        #expect(harness.strata(["run", "--name", "replaced", "bb", "--", "sh", "-c", replace]).status == 0)
        #expect(harness.strata(["diff", "replaced"]).stdout == "C /etc\nD /etc/group\nC /etc/passwd\n")

        #expect(harness.strata(["run", "--name", "clean", "bb", "--", "true"]).status == 0)
        #expect(harness.strata(["diff", "clean"]).stdout == "")

        let unknown = harness.strata(["diff", "nope"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "strata: no session named \"nope\"; `strata sessions` lists them\n")
    }
}

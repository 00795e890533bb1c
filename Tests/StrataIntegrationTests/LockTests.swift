import Foundation
import Testing

@Suite struct LockTests {
    func project() throws -> Harness {
        let harness = try Harness()
        try harness.write("files/a.txt", "alpha\n")
        try harness.write("files/sub/b.txt", "beta\n")
        try harness.manifest("app", """
        {
          "from": {"image": "oci:../images/busybox:latest"},
          "steps": [
            {"copy": {"from": "../files", "to": "/opt/files"}},
            {"tar": "../images/busybox-rootfs.tar.gz"}
          ],
          "env": {"MODE": "test"}
        }
        """)
        return harness
    }

    @Test func lockingTwiceIsByteIdentical() throws {
        let harness = try project()
        defer { harness.cleanup() }
        let first = harness.strata(["lock", "app"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("wrote"), "\(first.stdout)")
        let bytes = try harness.read("lockfiles/app.lock.json")
        let second = harness.strata(["lock", "app"])
        #expect(second.status == 0)
        #expect(second.stdout.contains("up to date"), "\(second.stdout)")
        #expect(try harness.read("lockfiles/app.lock.json") == bytes)
        // A second store resolves to the same bytes too: the lock depends on inputs only.
        try FileManager.default.removeItem(atPath: harness.project + "/lockfiles/app.lock.json")
        let third = harness.strata(["lock", "app"], env: ["STRATA_ROOT": harness.store + "-other"])
        #expect(third.status == 0)
        #expect(try harness.read("lockfiles/app.lock.json") == bytes)
    }

    @Test func lockfileIsCanonicalAndPinsEveryLayer() throws {
        let harness = try project()
        defer { harness.cleanup() }
        #expect(harness.strata(["lock", "app"]).status == 0)
        let text = try harness.read("lockfiles/app.lock.json")
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\n  \"base\": {"))
        let keys = ["\"base\"", "\"layers\"", "\"lockfileVersion\"", "\"manifest\"", "\"platform\""]
        let offsets = keys.map { text.range(of: "\n  " + $0)?.lowerBound }
        #expect(!offsets.contains(nil), "top-level keys: \(text)")
        #expect(offsets.compactMap { $0 } == offsets.compactMap { $0 }.sorted(), "sorted keys")
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let layers = json["layers"] as! [[String: Any]]
        #expect(layers.count == 3)
        for layer in layers {
            #expect((layer["digest"] as? String)?.hasPrefix("sha256:") == true)
            #expect((layer["diffID"] as? String)?.hasPrefix("sha256:") == true)
        }
        let copy = layers[1]
        #expect(copy["digest"] as? String == copy["diffID"] as? String, "a copied tree's tar is uncompressed")
        let tar = layers[2]
        #expect(tar["digest"] as? String != tar["diffID"] as? String, "a gzip tarball's digest is not its diff id")
        #expect(!text.contains(harness.project), "no host paths in the lockfile")
    }

    @Test func checkDetectsStaleness() throws {
        let harness = try project()
        defer { harness.cleanup() }
        let missing = harness.strata(["lock", "app", "--check"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no lockfile"), "\(missing.stderr)")

        #expect(harness.strata(["lock", "app"]).status == 0)
        #expect(harness.strata(["lock", "app", "--check"]).status == 0)

        try harness.write("files/sub/b.txt", "changed\n")
        let copied = harness.strata(["lock", "app", "--check"])
        #expect(copied.status == 1)
        #expect(copied.stderr.contains("copied ../files changed"), "\(copied.stderr)")

        #expect(harness.strata(["lock", "app"]).status == 0)
        try harness.manifest("app", try harness.read("envs/app.json").replacingOccurrences(of: "\"MODE\": \"test\"", with: "\"MODE\": \"prod\""))
        let manifest = harness.strata(["lock", "app", "--check"])
        #expect(manifest.status == 1)
        #expect(manifest.stderr.contains("manifest changed"), "\(manifest.stderr)")
    }

    @Test func frozenRefusesAStaleLockAndOtherwiseRelocks() throws {
        let harness = try project()
        defer { harness.cleanup() }
        #expect(harness.strata(["lock", "app"]).status == 0)
        try harness.write("files/a.txt", "changed\n")
        let frozen = harness.strata(["build", "app"], env: ["CI": "true"])
        #expect(frozen.status == 1)
        #expect(frozen.stderr.contains("out of date"), "\(frozen.stderr)")
        let flag = harness.strata(["build", "--frozen", "app"])
        #expect(flag.status == 1)

        let relocked = harness.strata(["run", "app", "--", "cat", "/opt/files/a.txt"])
        #expect(relocked.status == 0, "\(relocked.stderr)")
        #expect(relocked.stderr.contains("re-locked"), "\(relocked.stderr)")
        #expect(relocked.stdout == "changed\n")
        #expect(harness.strata(["lock", "app", "--check"]).status == 0)
    }

    /// Any change to a local input makes the lock stale, whether or not its digest was
    /// remembered (StrataLockTests checks, with the request's clock, that settled inputs are).
    @Test func changedInputsMakeTheLockStale() throws {
        let harness = try project()
        defer { harness.cleanup() }
        #expect(harness.strata(["lock", "app"]).status == 0)
        #expect(harness.strata(["lock", "app", "--check"]).status == 0)

        try harness.write("files/sub/b.txt", "betA\n")  // same size, new content
        let copied = harness.strata(["lock", "app", "--check"])
        #expect(copied.status == 1, "\(copied.stderr)")
        #expect(copied.stderr.contains("copied ../files changed"), "\(copied.stderr)")
        #expect(harness.strata(["lock", "app"]).status == 0)

        let tarball = harness.project + "/images/busybox-rootfs.tar.gz"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: tarball))
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 1024))  // more end-of-archive padding
        try bytes.write(to: URL(fileURLWithPath: tarball))
        let tar = harness.strata(["lock", "app", "--check"])
        #expect(tar.status != 0, "\(tar.stderr)")
    }

    /// A lockfile that cannot be read (here: not JSON, as after a merge conflict) is never
    /// re-resolved in its place: lock, build and run stop, say why, and leave it as it is,
    /// until `lock --update` re-resolves everything or the user deletes it.
    @Test func unreadableLockfileIsLeftAsItIs() throws {
        let harness = try project()
        defer { harness.cleanup() }
        let conflicted = "<<<<<<< HEAD\n{ not json\n=======\n{}\n>>>>>>> theirs\n"
        try harness.write("lockfiles/app.lock.json", conflicted)
        for arguments in [["lock", "app"], ["build", "app"], ["build", "--frozen", "app"], ["run", "app", "--", "true"], ["lock", "app", "--update", "x"]] {
            let result = harness.strata(arguments)
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("the lockfile cannot be read") && result.stderr.contains("app.lock.json"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("--update"), "says how to re-resolve: \(result.stderr)")
            #expect(try harness.read("lockfiles/app.lock.json") == conflicted, "\(arguments) left the lockfile as it was")
        }
        let check = harness.strata(["lock", "app", "--check"])
        #expect(check.status == 1 && check.stderr.contains("cannot be read"), "\(check.stderr)")
        let update = harness.strata(["lock", "app", "--update"])
        #expect(update.status == 0, "\(update.stderr)")
        #expect(harness.strata(["lock", "--check", "app"]).status == 0)
        #expect(harness.strata(["build", "app"]).status == 0)
    }

    @Test func lockfileLocations() throws {
        let harness = try project()
        defer { harness.cleanup() }
        try harness.write("elsewhere/solo.json", "{\"steps\": [{\"tar\": \"../images/busybox-rootfs.tar.gz\"}]}")
        #expect(harness.strata(["lock", "elsewhere/solo.json"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: harness.project + "/elsewhere/solo.lock.json"))
        #expect(harness.strata(["lock", "--lockfile", "custom.lock.json", "app"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: harness.project + "/custom.lock.json"))
    }
}

import Foundation
import Glibc
import Testing

/// `strata fsck [--repair]` on a real store damaged on purpose: each kind of damage is found
/// and named, and what can be fetched or unpacked again is restored.
@Suite struct FsckTests {
    func built() throws -> Harness {
        let harness = try Harness()
        try harness.write("files/tool", "#!/bin/sh\necho tool\n")
        try harness.manifest("bb", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"}, "steps": [{"copy": {"from": "../files", "to": "/opt"}}]}
        """)
        #expect(harness.strata(["build", "bb"]).status == 0)
        return harness
    }

    func lockfile(_ harness: Harness) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: harness.project + "/lockfiles/bb.lock.json"))) as? [String: Any] ?? [:]
    }

    /// The copy step's layer: its blob and diff id, from the lockfile's last step.
    func copyLayer(_ harness: Harness) throws -> (blob: String, diffID: String) {
        let steps = try lockfile(harness)["layers"] as? [[String: Any]] ?? []
        let last = try #require(steps.last)
        let digest = try #require(last["digest"] as? String), diffID = try #require(last["diffID"] as? String)
        return (String(digest.dropFirst(7)), String(diffID.dropFirst(7)))
    }

    /// Flips the 11th byte, leaving the file's mode as it was.
    func flipByte(_ path: String) throws {
        var info = stat()
        #expect(lstat(path, &info) == 0)
        defer { chmod(path, info.st_mode & 0o7777) }
        chmod(path, 0o644)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 10)
        let byte = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: 10)
        try handle.write(contentsOf: Data([byte[0] ^ 0xff]))
        try handle.close()
    }

    @Test func aCleanStoreIsClean() throws {
        let harness = try built()
        defer { harness.cleanup() }
        let check = harness.strata(["fsck"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("no problems"), "\(check.stdout)")
    }

    @Test func eachKindOfDamageIsNamedAndRepaired() throws {
        let harness = try built()
        defer { harness.cleanup() }
        let store = harness.store
        let (blob, diffID) = try copyLayer(harness)
        let layers = try FileManager.default.contentsOfDirectory(atPath: store + "/layers")
        let imageLayer = try #require(layers.first { $0 != diffID })
        // A flipped byte in a blob; a changed file, mode and xattr in a layer; a referenced layer deleted.
        try flipByte(store + "/blobs/sha256/" + blob)
        let binary = store + "/layers/" + imageLayer + "/bin/busybox"
        try flipByte(binary)
        chmod(store + "/layers/" + imageLayer + "/etc/passwd", 0o666)
        let planted = Harness.exec(["/usr/bin/python3", "-c", "import os, sys; os.setxattr(sys.argv[1], 'user.planted', b'x', follow_symlinks=False)",
                                    store + "/layers/" + imageLayer + "/etc"], cwd: "/", env: [:])
        #expect(planted.status == 0, "\(planted.stderr)")
        try FileManager.default.removeItem(atPath: store + "/layers/" + diffID)

        let check = harness.strata(["fsck"])
        #expect(check.status == 1, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("blob sha256:\(blob)") && check.stdout.contains("its bytes hash to"), "\(check.stdout)")
        #expect(check.stdout.contains("layer sha256:\(imageLayer)"), "\(check.stdout)")
        #expect(check.stdout.contains("/bin/busybox: content changed"), "\(check.stdout)")
        #expect(check.stdout.contains("/etc/passwd: mode changed"), "\(check.stdout)")
        #expect(check.stdout.contains("/etc: xattrs changed"), "\(check.stdout)")
        #expect(check.stdout.contains("names layer sha256:\(diffID), which is missing"), "\(check.stdout)")

        let repair = harness.strata(["fsck", "--repair"])
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(repair.stdout.contains("quarantined \(store)/quarantine/blob-\(blob)"), "\(repair.stdout)")
        #expect(repair.stdout.contains("quarantined \(store)/quarantine/layer-\(imageLayer)"), "\(repair.stdout)")
        #expect(repair.stdout.contains("built again: "), "\(repair.stdout)")
        #expect(harness.strata(["fsck"]).status == 0)
        let run = harness.strata(["run", "bb", "--", "sh", "/opt/tool"])
        #expect(run.stdout == "tool\n", "\(run.stderr)")
        // What was quarantined is kept for a person to look at, outside the store's names.
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: store + "/quarantine")
        #expect(quarantined.count == 2, "\(quarantined)")
    }

    @Test func whatCannotBeFetchedAgainIsSaidAndFails() throws {
        let harness = try built()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "sh", "-c", "echo made > /made"]).status == 0)
        #expect(harness.strata(["commit", "s", "--tag", "mine:1"]).status == 0)
        let inspect = harness.strata(["image", "inspect", "mine:1"])
        let document = (try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])?.first ?? [:]
        let layers = document["Layers"] as? [[String: Any]] ?? []
        let top = try #require((layers.last?["Digest"] as? String)?.dropFirst(7))
        try flipByte(harness.store + "/blobs/sha256/" + top)
        let repair = harness.strata(["fsck", "--repair"])
        #expect(repair.status == 1, "\(repair.stdout)\(repair.stderr)")
        #expect(repair.stdout.contains("image mine:1") && repair.stdout.contains("which is missing"), "\(repair.stdout)")
    }
}

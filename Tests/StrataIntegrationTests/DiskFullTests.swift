import Foundation
import Glibc
import Testing

/// A store on a small file system the test makes (a loop-mounted ext4): build, commit and pull
/// that run out of space stop with one sentence (what was being written, how much is free,
/// `strata gc`), leave nothing half-published (fsck is clean, tmp/ is empty), and succeed once
/// there is room again.
@Suite(.serialized) struct DiskFullTests {
    /// An ext4 image of `megabytes`, mounted on a fresh directory; `fill(leaving:)` takes all
    /// but that much with a file beside the store, `free()` gives it back.
    final class SmallFileSystem {
        let image: String, mountPoint: String
        var filler: String { mountPoint + "/filler" }
        var store: String { mountPoint + "/store" }

        init(megabytes: Int) throws {
            let base = NSTemporaryDirectory() + "strata-small-" + UUID().uuidString.prefix(8).lowercased()
            image = base + ".img"
            mountPoint = base
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            for argv in [["/usr/bin/truncate", "-s", "\(megabytes)M", image], ["/sbin/mkfs.ext4", "-q", "-F", image],
                         ["/bin/mount", "-o", "loop", image, mountPoint]] {
                let result = Harness.exec(argv, cwd: "/", env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
                guard result.status == 0 else { throw TestRegistry.failure("\(argv.joined(separator: " ")): \(result.stderr)") }
            }
        }

        var available: Int64 {
            var info = statvfs()
            return statvfs(mountPoint, &info) == 0 ? Int64(info.f_bavail) * Int64(info.f_frsize) : 0
        }

        func fill(leaving bytes: Int64) {
            let size = max(available - bytes, 0)
            _ = Harness.exec(["/usr/bin/fallocate", "-l", "\(size)", filler], cwd: "/", env: [:])
        }

        func free() { unlink(filler) }

        deinit {
            _ = Harness.exec(["/bin/umount", "-l", mountPoint], cwd: "/", env: [:])
            unlink(image)
            rmdir(mountPoint)
        }
    }

    func expectFullDiskSentence(_ result: Harness.Result, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, "\(what): \(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("strata: ") }
        #expect(lines.count == 1 && lines[0].contains("No space left on device") && lines[0].contains("free on the file system of")
                && lines[0].contains("`strata gc`"), "\(what): \(result.stderr)", sourceLocation: sourceLocation)
    }

    func expectClean(_ harness: Harness, _ small: SmallFileSystem, sourceLocation: SourceLocation = #_sourceLocation) {
        let check = harness.strata(["fsck", "--root", small.store])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)", sourceLocation: sourceLocation)
        let temporaries = (try? FileManager.default.contentsOfDirectory(atPath: small.store + "/tmp")) ?? []
        #expect(temporaries.isEmpty, "\(temporaries)", sourceLocation: sourceLocation)
    }

    @Test func buildCommitAndPullStopWithOneSentenceAndSucceedWithRoom() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let small = try SmallFileSystem(megabytes: 72)
        var random = [UInt8](repeating: 0, count: 8 << 20)
        for index in random.indices { random[index] = UInt8.random(in: 0...255) }
        try FileManager.default.createDirectory(atPath: harness.project + "/big", withIntermediateDirectories: true)
        try Data(random).write(to: URL(fileURLWithPath: harness.project + "/big/blob"))
        try harness.manifest("big", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"}, "steps": [{"copy": {"from": "../big", "to": "/big"}}]}
        """)
        #expect(harness.strata(["lock", "big"]).status == 0)
        let root = ["--root", small.store]

        // build: the copy's 8 MB blob does not fit in 4 MB.
        #expect(harness.strata(["image", "ls"] + root).status == 0, "the store exists")
        small.fill(leaving: 4 << 20)
        expectFullDiskSentence(harness.strata(["build"] + root + ["big"]), "build")
        expectClean(harness, small)
        small.free()
        let built = harness.strata(["build"] + root + ["big"])
        #expect(built.status == 0, "\(built.stderr)")

        // commit: the session's 8 MB change does not fit as a layer blob in 4 MB.
        #expect(harness.strata(["run"] + root + ["--name", "s", "big", "--", "sh", "-c", "cat /big/blob > /copy"]).status == 0)
        small.fill(leaving: 4 << 20)
        expectFullDiskSentence(harness.strata(["commit"] + root + ["s", "--tag", "full:1"]), "commit")
        expectClean(harness, small)
        small.free()
        let committed = harness.strata(["commit"] + root + ["s", "--tag", "full:1"])
        #expect(committed.status == 0, "\(committed.stderr)")

        // pull: an image with an 8 MB layer, into a store with 4 MB left.
        guard TestRegistry.installed() else { return }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        #expect(harness.strata(["run", "--name", "p", "big", "--", "sh", "-c", "head -c 8388608 /dev/urandom > /random"]).status == 0)
        #expect(harness.strata(["commit", "p", "--tag", "\(registry.host)/test/big:1"]).status == 0)
        let pushed = harness.strata(["push", "\(registry.host)/test/big:1"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(harness.strata(["rm"] + root + ["s"]).status == 0)
        #expect(harness.strata(["image", "rm"] + root + ["full:1"]).status == 0)
        #expect(harness.strata(["gc"] + root).status == 0)
        small.fill(leaving: 4 << 20)
        expectFullDiskSentence(harness.strata(["pull"] + root + ["\(registry.host)/test/big:1"]), "pull")
        expectClean(harness, small)
        small.free()
        let pulled = harness.strata(["pull"] + root + ["\(registry.host)/test/big:1"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        expectClean(harness, small)
    }
}

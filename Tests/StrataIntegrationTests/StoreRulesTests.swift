import Foundation
import Glibc
import Testing

/// The store's rules, checked on the store itself after every kind of write (DESIGN.md,
/// store layout): strata's own directories are 0700, and the layout root, which other
/// tools read as an OCI image layout, holds nothing but `oci-layout`, `index.json` and
/// strata's directories, also after writes killed halfway.
@Suite struct StoreRulesTests {
    static let rootEntries: Set<String> = ["oci-layout", "index.json", "blobs", "layers", "snapshots", "sessions", "volumes",
                                           "tmp", "locks", "cache", "roots", "seals", "quarantine"]

    @Test func directoriesArePrivateAndTheLayoutRootStaysClean() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.write("files/tool", "#!/bin/sh\necho tool\n")
        try harness.manifest("bb", """
        {"from": {"image": "oci:../images/busybox:latest"}, "steps": [{"copy": {"from": "../files", "to": "/opt"}}],
         "mounts": [{"type": "volume", "name": "data", "target": "/data"}]}
        """)
        for arguments in [["build", "bb"], ["run", "--name", "s", "bb", "--", "sh", "-c", "echo hi > /x; echo kept > /data/f"],
                          ["commit", "s", "--tag", "a:1"], ["image", "save", "a:1", "-o", "a.tar"],
                          ["image", "save", "a:1", "--format", "docker-archive", "-o", "a-docker.tar"],
                          ["image", "load", "a-docker.tar", "--tag", "b:1"], ["image", "import", "images/busybox-rootfs.tar.gz", "c:1"],
                          ["export", "s", "-o", "s.tar"], ["volume", "create", "v"], ["lock", "bb", "--update"]] {
            let result = harness.strata(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        check(harness)

        // Writes killed halfway: a commit compressing its layer, and a load staging an archive.
        #expect(harness.strata(["run", "--name", "big", "bb", "--", "dd", "if=/dev/urandom", "of=/big", "bs=1048576", "count=64"]).status == 0)
        #expect(harness.strata(["commit", "big", "--tag", "big:1"]).status == 0)
        #expect(harness.strata(["image", "save", "big:1", "--format", "docker-archive", "-o", "big.tar"]).status == 0)
        let commit = try harness.start(["commit", "big", "--tag", "big:2", "--compression", "gzip"])
        #expect(Harness.kill(commit, when: { temporaries(harness).contains { $0.hasPrefix("commit-layer") } }),
                "the commit ended before it wrote its layer")
        let load = try harness.start(["image", "load", "big.tar", "--tag", "big:3"])
        #expect(Harness.kill(load, when: { temporaries(harness).contains { $0.hasPrefix("import.") } }),
                "the load ended before it staged the archive")
        check(harness)
        let images = harness.strata(["images", "-q"]).stdout.split(separator: "\n")
        #expect(images.count == 4, "a:1, b:1, c:1 and big:1, nothing of the killed writes: \(images)")
        // What the killed writes left in tmp/ is gc's: their processes are gone.
        let gc = harness.strata(["gc"])
        #expect(gc.status == 0 && gc.stdout.contains("temporar"), "\(gc.stdout)\(gc.stderr)")
        #expect(temporaries(harness).isEmpty, "\(temporaries(harness))")
        #expect(harness.strata(["images", "-q"]).stdout.split(separator: "\n").count == 4)
        check(harness)
    }

    private func temporaries(_ harness: Harness) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/tmp")) ?? []
    }

    /// Every directory of the store's own is 0700; the trees inside layers, sessions' upper
    /// and work dirs, volumes' data and in-progress work under tmp/ have their own modes.
    private func check(_ harness: Harness, sourceLocation: SourceLocation = #_sourceLocation) {
        let root = harness.store
        let entries = Set((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
        #expect(entries.isSubset(of: Self.rootEntries), "the layout root holds \(entries.subtracting(Self.rootEntries))",
                sourceLocation: sourceLocation)
        var checked = 0
        func walk(_ relative: String) {
            let parts = relative.split(separator: "/").map(String.init)
            let isTree = (parts.count >= 2 && (parts[0] == "layers" || parts[0] == "tmp"))
                || (parts.count >= 3 && parts[0] == "sessions" && ["upper", "work"].contains(parts[2]))
                || (parts.count >= 3 && parts[0] == "volumes" && parts[2] == "_data")
            guard !isTree else { return }
            var info = stat()
            guard lstat(root + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
            checked += 1
            #expect(info.st_mode & 0o7777 == 0o700, "\(relative.isEmpty ? "the store root" : relative) is \(String(info.st_mode & 0o7777, radix: 8))",
                    sourceLocation: sourceLocation)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + relative)) ?? [] {
                walk(relative.isEmpty ? name : relative + "/" + name)
            }
        }
        walk("")
        #expect(checked > 10, "the walk saw the store's directories", sourceLocation: sourceLocation)
    }
}

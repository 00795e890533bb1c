import Foundation
import Testing
import StrataHostTestSupport

/// strata's images read and written by OCI tools no one here wrote: skopeo, umoci, podman.
@Suite struct ImageInteropTests {
    static let tools = ["/usr/bin/skopeo", "/usr/bin/umoci", "/usr/bin/podman", "/usr/bin/tar"]
    static var haveTools: Bool { tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } }

    /// A busybox session with a few changes, committed as `mine:1`; the session printed its tree (`listing`).
    func committed() throws -> (Harness, String) {
        let harness = try Harness()
        try harness.manifest("bb", busyboxManifest)
        let made = harness.strata(["run", "--name", "s", "bb", "--", "sh", "-c", """
        mkdir -p /work/sub && echo committed > /work/file && ln /work/file /work/hard && ln -s file /work/link && \
        chmod 640 /work/file && rm /bin/vi && echo x > /work/sub/x && \(Self.listing)
        """])
        #expect(made.status == 0, "\(made.stderr)")
        let commit = harness.strata(["commit", "s", "--tag", "mine:1"])
        #expect(commit.status == 0, "\(commit.stderr)")
        return (harness, made.stdout)
    }

    func run(_ argv: [String], cwd: String = "/") -> Harness.Result {
        Harness.exec(argv, cwd: cwd, env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"])
    }

    func skopeo(_ harness: Harness, _ arguments: [String]) -> Harness.Result {
        let tmp = harness.project + "/skopeo-tmp"
        try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        return run(["/usr/bin/skopeo", "--insecure-policy", "--tmpdir", tmp] + arguments)
    }

    /// `path mode uid gid type size` of every entry under /work, /bin and /etc, as GNU and busybox `stat`
    /// both print it, and the link count of everything but directories (overlayfs counts a directory's links differently).
    static let listing = "for d in /work /bin /etc; do find $d | sort | while read p; do stat -c '%n %a %u %g %F %s' \"$p\"; [ -d \"$p\" ] || stat -c '  links %h' \"$p\"; done; done"

    @Test(.enabled(if: haveTools)) func skopeoReadsTheStore() throws {
        let (harness, _) = try committed()
        defer { harness.cleanup() }
        let id = harness.strata(["images", "--json"]).stdout
        let inspect = skopeo(harness, ["inspect", "oci:\(harness.store):mine:1"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let digest = try #require(id.split(separator: "\"").first { $0.hasPrefix("sha256:") })
        #expect(inspect.stdout.contains(String(digest)), "\(inspect.stdout)")
        let copy = skopeo(harness, ["copy", "oci:\(harness.store):mine:1", "oci:\(harness.project)/copied:c"])
        #expect(copy.status == 0, "\(copy.stderr)")
    }

    /// `umoci unpack` of an OCI export gives the tree the session had.
    @Test(.enabled(if: haveTools)) func umociUnpacksTheExport() throws {
        let (harness, sessionTree) = try committed()
        defer { harness.cleanup() }
        let export = harness.strata(["image", "save", "mine:1", "--format", "oci", "-o", "mine.tar"])
        #expect(export.status == 0, "\(export.stderr)")
        let layout = harness.project + "/layout", bundle = harness.project + "/bundle"
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        #expect(run(["/usr/bin/tar", "-xf", harness.project + "/mine.tar", "-C", layout]).status == 0)
        let unpack = run(["/usr/bin/umoci", "unpack", "--image", layout + ":mine:1", bundle])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        try harness.manifest("from", #"{"from": {"image": "mine:1"}}"#)
        let image = harness.strata(["run", "from", "--", "sh", "-c", Self.listing])
        #expect(image.status == 0, "\(image.stderr)")
        let host = run(["/usr/sbin/chroot", bundle + "/rootfs", "/bin/sh", "-c", Self.listing])
        #expect(host.status == 0, "\(host.stderr)")
        #expect(host.stdout == sessionTree, "umoci's tree differs from the session's:\n\(host.stdout.prefix(2000))\n--- session:\n\(sessionTree.prefix(2000))")
        #expect(image.stdout == sessionTree, "an environment on the image differs from the session")
        #expect(host.stdout.contains("/work/file 640 0 0 regular file 10\n  links 2"), "\(host.stdout.prefix(500))")
        #expect(!host.stdout.contains("/bin/vi "), "the whiteout removed /bin/vi")
    }

    /// podman loads the docker-archive export and runs it.
    @Test(.enabled(if: haveTools), .sharedHostCgroups) func podmanRunsTheDockerArchive() throws {
        let (harness, _) = try committed()
        defer { harness.cleanup() }
        let export = harness.strata(["image", "export", "mine:1", "--format", "docker-archive", "-o", "mine-docker.tar"])
        #expect(export.status == 0, "\(export.stderr)")
        let podman = ["/usr/bin/podman", "--root", harness.project + "/podman/root", "--runroot", harness.project + "/podman/run",
                      "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
        let load = run(podman + ["load", "-i", harness.project + "/mine-docker.tar"])
        #expect(load.status == 0, "\(load.stderr)")
        let output = run(podman + ["run", "--rm", "--runtime", "runc", "--network", "none",
                                   "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
                                   "localhost/mine:1", "cat", "/work/file"])
        #expect(output.stdout == "committed\n", "\(output.stderr)")
        _ = run(podman + ["rmi", "-a", "-f"])
    }

    /// Archives skopeo and umoci wrote import and run.
    @Test(.enabled(if: haveTools)) func importsWhatOtherToolsWrote() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let source = "oci:\(harness.project)/images/busybox:latest"
        #expect(skopeo(harness, ["copy", source, "oci-archive:\(harness.project)/sk-oci.tar:bb:1"]).status == 0)
        #expect(skopeo(harness, ["copy", source, "docker-archive:\(harness.project)/sk-docker.tar:bb:2"]).status == 0)
        // umoci: unpack busybox, add a file, repack, and tar the layout as `podman save --format oci-dir` leaves it.
        let layout = harness.project + "/umoci-layout", bundle = harness.project + "/umoci-bundle"
        #expect(skopeo(harness, ["copy", source, "oci:\(layout):bb"]).status == 0)
        #expect(run(["/usr/bin/umoci", "unpack", "--image", layout + ":bb", bundle]).status == 0)
        try Data("from umoci\n".utf8).write(to: URL(fileURLWithPath: bundle + "/rootfs/hello"))
        let repack = run(["/usr/bin/umoci", "repack", "--image", layout + ":um", bundle])
        #expect(repack.status == 0, "\(repack.stderr)")
        #expect(run(["/usr/bin/tar", "-C", layout, "-cf", harness.project + "/umoci.tar", "."]).status == 0)

        let first = harness.strata(["image", "load", "sk-oci.tar"])
        #expect(first.status == 0 && first.stdout.contains("bb:1"), "\(first.stdout) \(first.stderr)")
        let second = harness.strata(["load", "-i", "sk-docker.tar"])
        #expect(second.status == 0 && second.stdout.contains("bb:2"), "\(second.stdout) \(second.stderr)")
        // `image import` of an image archive, its meaning before `load` existed, still loads it (and says so).
        let third = harness.strata(["image", "import", "umoci.tar"])
        #expect(third.status == 0 && third.stdout.contains("um"), "\(third.stdout) \(third.stderr)")
        #expect(third.stderr.contains("strata image load"), "\(third.stderr)")
        for (env, image, command, expected) in [("a", "bb:1", "echo ok", "ok\n"), ("b", "bb:2", "echo ok", "ok\n"),
                                                ("c", "um", "cat /hello", "from umoci\n")] {
            try harness.manifest(env, #"{"from": {"image": "\#(image)"}}"#)
            let result = harness.strata(["run", env, "--", "sh", "-c", command])
            #expect(result.stdout == expected, "\(image): \(result.stderr)")
        }
    }

    /// Damaged archives are refused with one sentence, and nothing of them is stored or tagged.
    @Test(.enabled(if: haveTools)) func damagedArchivesImportNothing() throws {
        let (harness, _) = try committed()
        defer { harness.cleanup() }
        #expect(harness.strata(["image", "save", "mine:1", "-o", "good.tar"]).status == 0)
        let good = try Data(contentsOf: URL(fileURLWithPath: harness.project + "/good.tar"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: harness.project + "/truncated.tar"))
        try Data("this is not an image\n".utf8).write(to: URL(fileURLWithPath: harness.project + "/text.tar"))

        // A manifest whose bytes no longer match its digest, and an image whose layer blob is gone.
        let layout = harness.project + "/unpacked"
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        #expect(run(["/usr/bin/tar", "-xf", harness.project + "/good.tar", "-C", layout]).status == 0)
        let index = try String(contentsOfFile: layout + "/index.json", encoding: .utf8)
        let manifestHex = try #require(index.components(separatedBy: "sha256:").dropFirst().first?.prefix(64))
        let manifestPath = layout + "/blobs/sha256/" + manifestHex
        let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        let layerHex = try #require(manifest.components(separatedBy: "\"layers\"").last?.components(separatedBy: "sha256:").dropFirst().first?.prefix(64))
        try FileManager.default.removeItem(atPath: layout + "/blobs/sha256/" + layerHex)
        #expect(run(["/usr/bin/tar", "-C", layout, "-cf", harness.project + "/missing-layer.tar", "."]).status == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: manifestPath)
        try (manifest.replacingOccurrences(of: "\"schemaVersion\":2", with: "\"schemaVersion\": 2")).write(toFile: manifestPath, atomically: false, encoding: .utf8)
        #expect(run(["/usr/bin/tar", "-C", layout, "-cf", harness.project + "/bad-digest.tar", "."]).status == 0)

        let blobsBefore = Set(try FileManager.default.contentsOfDirectory(atPath: harness.store + "/blobs/sha256"))
        let imagesBefore = harness.strata(["images", "--json"]).stdout
        for (file, needle) in [("truncated.tar", "truncated.tar"), ("text.tar", "text.tar"), ("missing-layer.tar", layerHex.prefix(12)),
                               ("bad-digest.tar", "sha256:"), ("nothere.tar", "nothere.tar")] {
            let result = harness.strata(["image", "load", file, "--tag", "damaged:1"])
            #expect(result.status != 0, "\(file) was accepted")
            #expect(result.stderr.contains(String(needle)), "\(file): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(file): \(result.stderr)")
        }
        #expect(harness.strata(["images", "--json"]).stdout == imagesBefore)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: harness.store + "/blobs/sha256")) == blobsBefore)
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.store + "/tmp").isEmpty, "no staging left behind")
    }
}

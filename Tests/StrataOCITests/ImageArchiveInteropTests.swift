import Foundation
import StrataJSON
import StrataModel
import Testing
@testable import StrataOCI

private let skopeoTool = "/usr/bin/skopeo"
private let umoci = "/usr/bin/umoci"
private let podman = "/usr/bin/podman"
private func installed(_ tool: String) -> Bool { FileManager.default.isExecutableFile(atPath: tool) }

/// Our archives read by tools no one here wrote, and theirs staged by us.
@Suite("ImageArchive interop")
struct ImageArchiveInteropTests {
    /// skopeo with no policy file and its temporary files in the scratch directory.
    private func skopeo(_ scratch: Scratch, _ arguments: [String]) throws -> String {
        try run(skopeoTool, ["--insecure-policy", "--tmpdir", try scratch.directory("skopeo-tmp")] + arguments)
    }

    @Test(.enabled(if: installed(skopeoTool)))
    func skopeoReadsOurOCIArchiveAndWeStageWhatItWrites() throws {
        let scratch = try Scratch()
        // skopeo 1.9 refuses to write zstd layers into docker formats.
        let image = try ImageFixture(in: scratch, kinds: [.gzip, .plain])
        let archive = scratch.base + "/ours.tar"
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "t", to: archive)

        let inspected = try JSON.parse(try skopeo(scratch, ["inspect", "oci-archive:" + archive]))
        #expect(inspected["Digest"]?.stringValue == image.manifest.description)
        #expect(inspected["Layers"] == .array(image.layers.map { .string($0.digest.description) }))

        let copy = scratch.base + "/copy"
        _ = try skopeo(scratch, ["copy", "oci-archive:" + archive, "oci:" + copy + ":t"])
        // skopeo gzips the plain layer on the way, so the manifest is its own.
        let theirs = try OCILayout.resolve(layout: copy, tag: "t")
        #expect(theirs.diffIDs == image.diffIDs)
        #expect(theirs.config.digest == image.config)

        let docker = scratch.base + "/theirs.docker.tar"
        _ = try skopeo(scratch, ["copy", "oci:" + copy + ":t", "docker-archive:" + docker + ":name:t"])
        let fromDocker = try scratch.directory("from-docker")
        let stagedDocker = try ImageArchiveReader.stage(archive: docker, into: fromDocker)
        #expect(stagedDocker.format == .dockerArchive)
        #expect(stagedDocker.images.first?.refNames == ["docker.io/library/name:t"])
        let resolvedDocker = try OCILayout.resolve(layout: fromDocker, tag: "docker.io/library/name:t")
        #expect(resolvedDocker.diffIDs == image.diffIDs)
        #expect(resolvedDocker.config.digest == image.config)

        let oci = scratch.base + "/theirs.oci.tar"
        _ = try skopeo(scratch, ["copy", "oci:" + copy + ":t", "oci-archive:" + oci + ":z"])
        let fromOCI = try scratch.directory("from-oci")
        let stagedOCI = try ImageArchiveReader.stage(archive: oci, into: fromOCI)
        #expect(stagedOCI.images.first?.refNames == ["z"])
        #expect(stagedOCI.images.first?.manifest == theirs.manifest)
        #expect(Set(stagedOCI.images.first?.blobs ?? []) == Set([theirs.manifestDigest, theirs.config.digest] + theirs.layers.map(\.digest)))
    }

    @Test(.enabled(if: installed(skopeoTool)))
    func skopeoReadsOurDockerArchive() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch)
        let archive = scratch.base + "/ours.docker.tar"
        try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: image.manifest,
                                                  repoTags: ["localhost/strata:1"], to: archive)
        let inspected = try JSON.parse(try skopeo(scratch, ["inspect", "docker-archive:" + archive]))
        #expect(inspected["Layers"] == .array(image.diffIDs.map { .string($0.description) }))
        let copy = scratch.base + "/copy"
        _ = try skopeo(scratch, ["copy", "docker-archive:" + archive, "oci:" + copy + ":t"])
        // skopeo rewrites the config when it converts to OCI; what it says is unchanged.
        let theirs = try OCILayout.resolve(layout: copy, tag: "t")
        #expect(theirs.diffIDs == image.diffIDs)
        #expect(theirs.defaults.env == ["LANG=C.UTF-8"])
        #expect(theirs.defaults.cmd == ["/bin/sh"])
    }

    @Test(.enabled(if: installed(umoci)))
    func umociUnpacksOurOCIArchive() throws {
        // umoci 0.4.7 (Debian bookworm) reads gzip and plain layers, not zstd ones.
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip, .plain])
        let archive = scratch.base + "/ours.tar"
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "t", to: archive)
        let untarred = try scratch.directory("untarred")
        try run("/usr/bin/tar", ["-xf", archive, "-C", untarred])
        let bundle = scratch.base + "/bundle"
        try run(umoci, ["unpack", "--image", untarred + ":t", bundle])
        for (path, text) in image.files {
            #expect(contents(bundle + "/rootfs" + path) == Array(text.utf8), "\(path)")
        }
    }

    @Test(.enabled(if: installed(podman)))
    func podmanLoadsOurArchivesAndWeStageWhatItSaves() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip, .plain])
        // A podman of its own: storage and run state in the scratch directory.
        let storage = ["--root", try scratch.directory("podman-root"), "--runroot", try scratch.directory("podman-run"),
                       "--storage-driver", "vfs", "--events-backend", "none", "--cgroup-manager", "cgroupfs"]
        let docker = scratch.base + "/ours.docker.tar", oci = scratch.base + "/ours.oci.tar"
        try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: image.manifest,
                                                  repoTags: ["localhost/strata:1"], to: docker)
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "strata:2", to: oci)
        #expect(try run(podman, storage + ["load", "-q", "-i", docker]).contains("localhost/strata:1"))
        _ = try run(podman, storage + ["load", "-q", "-i", oci])
        let config = try JSON.parse(try run(podman, storage + ["image", "inspect", "localhost/strata:1"]))
        #expect(config.arrayValue?.first?["RootFS"]?["Layers"] == .array(image.diffIDs.map { .string($0.description) }))

        for format in ["docker-archive", "oci-archive"] {
            let saved = scratch.base + "/podman." + format + ".tar"
            try run(podman, storage + ["save", "-q", "--format", format, "-o", saved, "localhost/strata:1"])
            let staged = try scratch.directory("staged-" + format)
            let result = try ImageArchiveReader.stage(archive: saved, into: staged)
            #expect(result.images.count == 1)
            let name = try #require(result.images.first?.refNames.first)
            #expect(name.hasSuffix("strata:1"), "\(format): \(name)")
            #expect(try OCILayout.resolve(layout: staged, tag: name).diffIDs == image.diffIDs, "\(format)")
        }
    }
}

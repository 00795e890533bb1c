import Foundation
import Glibc
import StrataArchive
import StrataJSON
import StrataModel
import Testing
@testable import StrataOCI

@Suite("ImageArchive round trips")
struct ImageArchiveRoundTripTests {
    @Test func ociExportStagesTheSameBlobs() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch)
        let archive = scratch.base + "/image.tar"
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "strata:1", to: archive)

        let staged = try scratch.directory("staged")
        let result = try ImageArchiveReader.stage(archive: archive, into: staged)
        #expect(result.format == .ociLayout)
        #expect(result.images.count == 1)
        let only = try #require(result.images.first)
        #expect(only.refNames == ["strata:1"])
        #expect(only.manifest.digest == image.manifest)
        #expect(only.manifest.mediaType == "application/vnd.oci.image.manifest.v1+json")
        #expect(Set(only.blobs) == image.blobs)
        #expect(only.blobs.first == image.manifest)
        // Exactly the image's blobs, byte for byte, and nothing left of the staging.
        #expect(listing(staged) == ["blobs", "index.json", "oci-layout"])
        #expect(Set(listing(staged + "/blobs/sha256")) == Set(image.blobs.map(\.hex)))
        for blob in image.blobs { #expect(contents(OCILayout.blobPath(staged, blob)) == contents(image.blobPath(blob))) }

        let resolved = try OCILayout.resolve(layout: staged, tag: "strata:1")
        #expect(resolved.layers == image.layers)
        #expect(resolved.diffIDs == image.diffIDs)
        #expect(resolved.config.digest == image.config)
    }

    @Test func ociExportIsDeterministicAndAnonymous() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch)
        let first = scratch.base + "/one.tar", second = scratch.base + "/two.tar"
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: nil, to: first)
        // The second export reads a layout whose every time is another (the source times are
        // all it could copy); the listing below shows no clock time got in either (mtime 0).
        try setTimes(under: image.layout, to: 1_000_000_000)
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: nil, to: second)
        #expect(contents(first) == contents(second))

        let layer = image.layers[0].digest.hex, config = image.config.hex, manifest = image.manifest.hex
        let listed = try run("/usr/bin/python3", ["-c", """
            import sys, tarfile
            for m in tarfile.open(sys.argv[1]):
                print(m.name, oct(m.mode), m.uid, m.gid, m.uname or "-", m.gname or "-", m.mtime, m.type.decode())
            """, first])
        let expected = [
            "oci-layout 0o644 0 0 - - 0 0", "index.json 0o644 0 0 - - 0 0",
            "blobs 0o755 0 0 - - 0 5", "blobs/sha256 0o755 0 0 - - 0 5",
            "blobs/sha256/\(manifest) 0o644 0 0 - - 0 0", "blobs/sha256/\(config) 0o644 0 0 - - 0 0",
            "blobs/sha256/\(layer) 0o644 0 0 - - 0 0",
        ]
        #expect(Array(listed.split(separator: "\n").map(String.init).prefix(7)) == expected)
        let index = try JSON.parse(try run("/usr/bin/tar", ["-xOf", first, "index.json"]))
        #expect(index["manifests"]?.arrayValue?.first?["annotations"] == nil)
        #expect(index["manifests"]?.arrayValue?.first?["size"]?.intValue == Int64(contents(image.blobPath(image.manifest)).count))
    }

    @Test func dockerExportStagesAnImageTheResolverReads() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch)
        let archive = scratch.base + "/image.docker.tar"
        try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: image.manifest,
                                                  repoTags: ["localhost/strata:1", "localhost/strata:latest"], to: archive)

        let manifest = try JSON.parse(try run("/usr/bin/tar", ["-xOf", archive, "manifest.json"]))
        let entry = try #require(manifest.arrayValue?.first)
        #expect(entry["Config"]?.stringValue == image.config.hex + ".json")
        #expect(entry["RepoTags"] == .array([.string("localhost/strata:1"), .string("localhost/strata:latest")]))
        #expect(entry["Layers"] == .array(image.diffIDs.map { .string($0.hex + "/layer.tar") }))

        let staged = try scratch.directory("staged")
        let result = try ImageArchiveReader.stage(archive: archive, into: staged)
        #expect(result.format == .dockerArchive)
        let only = try #require(result.images.first)
        #expect(only.refNames == ["localhost/strata:1", "localhost/strata:latest"])
        // Layers come back uncompressed, as the archive has them: their digests are the diff ids.
        let resolved = try OCILayout.resolve(layout: staged, tag: "localhost/strata:latest")
        #expect(resolved.diffIDs == image.diffIDs)
        #expect(resolved.layers.map(\.digest) == image.diffIDs)
        #expect(resolved.layers.allSatisfy { $0.mediaType == "application/vnd.oci.image.layer.v1.tar" })
        #expect(resolved.config.digest == image.config)
        #expect(resolved.manifest == only.manifest)
        #expect(resolved.defaults.env == ["LANG=C.UTF-8"])
        #expect(Set(only.blobs) == Set([only.manifest.digest, image.config] + image.diffIDs))
        for diffID in image.diffIDs { #expect(Digest.sha256(of: contents(OCILayout.blobPath(staged, diffID))) == diffID) }
        #expect(Set(listing(staged + "/blobs/sha256")) == Set(only.blobs.map(\.hex)))

        // The same image twice gives the same archive.
        let again = scratch.base + "/again.docker.tar"
        try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: image.manifest,
                                                  repoTags: ["localhost/strata:1", "localhost/strata:latest"], to: again)
        #expect(contents(again) == contents(archive))
    }

    @Test func compressedArchivesStage() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip])
        let archive = scratch.base + "/image.tar"
        try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: image.manifest, repoTags: [], to: archive)
        for compression in LayerCompressor.Compression.allCases {
            let compressed = archive + "." + compression.rawValue
            _ = try LayerCompressor.compress(archive, to: compressed, with: compression)
            let staged = try scratch.directory("staged-" + compression.rawValue)
            let result = try ImageArchiveReader.stage(archive: compressed, into: staged)
            #expect(result.images.first?.refNames == [])
            #expect(try OCILayout.resolve(layout: staged, tag: nil).diffIDs == image.diffIDs)
        }
    }

    @Test func dockerArchiveWithCompressedLayersKeepsThemCompressed() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip, .zstd])
        // A docker archive whose layer files are the gzip and zstd blobs themselves.
        let archive = try scratch.tar("compressed-layers.tar", """
            add_file("config.json", "\(image.blobPath(image.config))")
            add_file("a.tar.gz", "\(image.blobPath(image.layers[0].digest))")
            add_file("b.tar.zst", "\(image.blobPath(image.layers[1].digest))")
            add("manifest.json", data=b'[{"Config": "config.json", "RepoTags": null, "Layers": ["a.tar.gz", "./b.tar.zst"]}]')
            """)
        let staged = try scratch.directory("staged")
        _ = try ImageArchiveReader.stage(archive: archive, into: staged)
        let resolved = try OCILayout.resolve(layout: staged, tag: nil)
        #expect(resolved.layers == image.layers)
        #expect(resolved.diffIDs == image.diffIDs)
    }

    @Test func oneArchiveWithTwoImagesSharingALayer() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let second = try ImageFixture(in: scratch, name: "other", kinds: [.plain])
        let archive = try scratch.tar("two.tar", """
            add_file("one.json", "\(image.blobPath(image.config))")
            add_file("two.json", "\(second.blobPath(second.config))")
            add_file("l1/layer.tar", "\(image.blobPath(image.layers[0].digest))")
            add_file("l2/layer.tar", "\(second.blobPath(second.layers[0].digest))")
            add("l3/layer.tar", type=SYMTYPE, link="../l1/layer.tar")
            add("manifest.json", data=b'[{"Config": "one.json", "RepoTags": ["a:1"], "Layers": ["l1/layer.tar"]}, {"Config": "two.json", "RepoTags": ["b:2"], "Layers": ["l2/layer.tar"]}, {"Config": "one.json", "RepoTags": ["a:latest"], "Layers": ["l1/layer.tar"]}]')
            """)
        let staged = try scratch.directory("staged")
        let result = try ImageArchiveReader.stage(archive: archive, into: staged)
        #expect(result.images.map(\.refNames) == [["a:1", "a:latest"], ["b:2"]])
        #expect(try OCILayout.resolve(layout: staged, tag: "a:latest").diffIDs == image.diffIDs)
        #expect(try OCILayout.resolve(layout: staged, tag: "b:2").diffIDs == second.diffIDs)
    }

    @Test func newerDockerSaveWithIndexAndManifestJSON() throws {
        // docker save since 25 writes an OCI layout and a manifest.json whose RepoTags
        // carry the full names (the index only has the bare tag).
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, tag: "latest", kinds: [.plain])
        let blobs = image.blobs.map { "add_file(\"blobs/sha256/\($0.hex)\", \"\(image.blobPath($0))\")" }.joined(separator: "\n")
        let archive = try scratch.tar("docker25.tar", """
            \(blobs)
            add_file("index.json", "\(image.layout)/index.json")
            add_file("oci-layout", "\(image.layout)/oci-layout")
            add("manifest.json", data=b'[{"Config": "blobs/sha256/\(image.config.hex)", "RepoTags": ["app:latest"], "Layers": ["blobs/sha256/\(image.layers[0].digest.hex)"]}]')
            """)
        let staged = try scratch.directory("staged")
        let result = try ImageArchiveReader.stage(archive: archive, into: staged)
        #expect(result.format == .ociLayout)
        #expect(result.images.first?.refNames == ["app:latest"])
        #expect(result.images.first?.manifest.digest == image.manifest)
    }

    @Test func exportOfAnImageWithACorruptBlobLeavesNoFile() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch)
        let out = try scratch.directory("out")
        var bytes = contents(image.blobPath(image.layers[2].digest))
        bytes[600] ^= 0xff
        try write(image.blobPath(image.layers[2].digest), bytes)
        let oci = thrown { try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "t", to: out + "/x.tar") }
        guard case .digestMismatch(let path, let expected, _)? = oci else { Issue.record("\(String(describing: oci))"); return }
        #expect(path == image.blobPath(image.layers[2].digest))
        #expect(expected == image.layers[2].digest)
        let docker = thrown { try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: image.manifest, repoTags: [], to: out + "/y.tar") }
        #expect(docker != nil)
        #expect(listing(out) == [], "no archive and no temporary file is left behind")
    }

    @Test func dockerExportChecksDiffIDs() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip])
        // A compressed layer that decompresses to something else than its diff id says
        // (the blob itself still matches its digest, so only the diff id check sees it).
        let other = try ImageFixture(in: scratch, name: "other", kinds: [.gzip])
        try FileManager.default.copyItem(atPath: other.blobPath(other.layers[0].digest),
                                         toPath: image.blobPath(other.layers[0].digest))
        let manifest = try ImageFixture.putDocument(.object([
            "schemaVersion": .int(2),
            "config": ImageFixture.json(OCIDescriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: image.config,
                                                      size: Int64(contents(image.blobPath(image.config)).count))),
            "layers": .array([ImageFixture.json(other.layers[0])]),
        ]), in: image.layout)
        let out = try scratch.directory("out")
        let error = thrown { try ImageArchiveWriter.writeDockerArchive(from: image.layout, manifest: manifest.digest, repoTags: [], to: out + "/x.tar") }
        #expect(error?.description.contains("diff id \(image.diffIDs[0])") == true, "\(String(describing: error))")
        #expect(listing(out) == [])
    }

    @Test func exportOfAMissingManifestSaysSo() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch)
        let missing = Digest.sha256(of: Array("nothing".utf8))
        let error = thrown { try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: missing, refName: nil, to: scratch.base + "/x.tar") }
        guard case .unreadable(let path, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(path == image.blobPath(missing))
        #expect(!FileManager.default.fileExists(atPath: scratch.base + "/x.tar"))
    }
}

/// Sets the access and modification times of `root` and everything below it to `seconds`
/// since the epoch (symbolic links themselves, not their targets).
private func setTimes(under root: String, to seconds: Int) throws {
    let paths = [root] + (FileManager.default.subpaths(atPath: root) ?? []).map { root + "/" + $0 }
    let time = timespec(tv_sec: seconds, tv_nsec: 0)
    for path in paths {
        let times = [time, time]
        guard utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}

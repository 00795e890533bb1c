import Foundation
import StrataArchive
import StrataJSON
import StrataModel
import Testing
@testable import StrataOCI

/// Hostile and damaged archives: each is refused with an error naming the archive (and
/// the entry), and the staging directory is left empty.
@Suite("ImageArchive bad input")
struct ImageArchiveBadInputTests {
    /// Stages `archive`, expects a refusal, checks nothing is left staged, returns the error.
    private func refusal(_ archive: String, _ scratch: Scratch, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> OCIError {
        let staged = try scratch.directory("staged-\(UInt32.random(in: 0 ... .max))")
        let error = thrown { _ = try ImageArchiveReader.stage(archive: archive, into: staged) }
        #expect(listing(staged) == [], "a refused archive leaves nothing staged", sourceLocation: sourceLocation)
        return try #require(error, "\(archive) was staged", sourceLocation: sourceLocation)
    }

    /// An OCI archive of `image` built file by file, so that tests can drop or change files.
    private func ociArchive(_ scratch: Scratch, _ image: ImageFixture, name: String,
                            skipping skipped: Set<Digest> = [], index: String? = nil, extra: String = "") throws -> String {
        var body = ["add_file(\"oci-layout\", \"\(image.layout)/oci-layout\")"]
        if let index { body.append("add(\"index.json\", data=\(index))") } else {
            body.append("add_file(\"index.json\", \"\(image.layout)/index.json\")")
        }
        for blob in image.blobs.sorted() where !skipped.contains(blob) {
            body.append("add_file(\"blobs/sha256/\(blob.hex)\", \"\(image.blobPath(blob))\")")
        }
        if !extra.isEmpty { body.append(extra) }
        return try scratch.tar(name, body.joined(separator: "\n"))
    }

    @Test func absoluteAndClimbingNamesAreRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        for (bad, word) in [("/etc/evil", "absolute"), ("blobs/../../evil", "'..'"), ("../index.json", "'..'")] {
            let archive = try ociArchive(scratch, image, name: "bad.tar", extra: "add(\"\(bad)\", data=b\"x\")")
            let error = try refusal(archive, scratch)
            #expect(error.path == archive + ":" + bad)
            #expect(error.description.contains(word), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.base + "/evil"))
    }

    @Test func devicesAndFIFOsAreRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        for type in ["CHRTYPE, major=1, minor=3", "BLKTYPE, major=8, minor=0", "FIFOTYPE"] {
            let archive = try ociArchive(scratch, image, name: "dev.tar", extra: "add(\"node\", type=\(type))")
            let error = try refusal(archive, scratch)
            #expect(error.path == archive + ":node")
            #expect(error.description.contains("device, FIFO or socket"))
        }
    }

    @Test func linksAreNeverFollowed() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let layer = image.blobPath(image.layers[0].digest), config = image.blobPath(image.config)
        for type in ["SYMTYPE, link=\"/etc/passwd\"", "SYMTYPE, link=\"../real.tar\"", "LNKTYPE, link=\"real.tar\""] {
            let archive = try scratch.tar("link.tar", """
                add_file("config.json", "\(config)")
                add_file("real.tar", "\(layer)")
                add("l/layer.tar", type=\(type))
                add("manifest.json", data=b'[{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]')
                """)
            let error = try refusal(archive, scratch)
            #expect(error.path == archive + ":l/layer.tar")
            #expect(error.description.contains("is a link, which strata does not follow"), "\(error)")
        }
        // A manifest.json that names something outside the archive is refused before any lookup.
        let outside = try scratch.tar("outside.tar", """
            add_file("config.json", "\(config)")
            add("manifest.json", data=b'[{"Config": "config.json", "RepoTags": [], "Layers": ["../../etc/passwd"]}]')
            """)
        #expect(try refusal(outside, scratch).description.contains("climbs with '..'"))
    }

    @Test func truncatedAndCorruptArchivesAreRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip])
        let archive = scratch.base + "/good.tar"
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "t", to: archive)
        let bytes = contents(archive)
        // Cut inside the last blob: a tar that ends mid-entry.
        let cut = scratch.base + "/cut.tar"
        try write(cut, Array(bytes.prefix(3000)))
        #expect(try refusal(cut, scratch).description.contains("truncated or corrupt"))

        let gzip = archive + ".gz"
        _ = try LayerCompressor.compress(archive, to: gzip, with: .gzip)
        let gzipBytes = contents(gzip)
        let cutGzip = scratch.base + "/cut.tar.gz"
        try write(cutGzip, Array(gzipBytes.prefix(gzipBytes.count - 40)))
        _ = try refusal(cutGzip, scratch)

        var flipped = gzipBytes
        flipped[flipped.count / 2] ^= 0x55
        let corrupt = scratch.base + "/corrupt.tar.gz"
        try write(corrupt, flipped)
        _ = try refusal(corrupt, scratch)
    }

    @Test func somethingElseIsNotAnImageArchive() throws {
        let scratch = try Scratch()
        let text = scratch.base + "/notes.txt"
        try write(text, String(repeating: "not a tar at all\n", count: 100))
        let error = try refusal(text, scratch)
        #expect(error.path == text)
        #expect(error.description.contains("is not an image archive"))

        let plainTar = try scratch.tar("files.tar", "add(\"hello.txt\", data=b\"hello\")")
        #expect(try refusal(plainTar, scratch).description.contains("neither index.json (OCI) nor manifest.json"))

        let empty = scratch.base + "/empty"
        try write(empty, [UInt8]())
        _ = try refusal(empty, scratch)
        _ = try refusal(scratch.base + "/does-not-exist.tar", scratch)
        _ = try refusal(scratch.base, scratch)
    }

    @Test func aBlobWhoseBytesDoNotMatchItsDigestIsRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        // The manifest's bytes changed, its name kept.
        let changed = scratch.base + "/changed-manifest"
        var bytes = contents(image.blobPath(image.manifest))
        bytes[bytes.count - 2] = 0x20
        try write(changed, bytes)
        let archive = try ociArchive(scratch, image, name: "mismatch.tar", skipping: [image.manifest],
                                     extra: "add_file(\"blobs/sha256/\(image.manifest.hex)\", \"\(changed)\")")
        let error = try refusal(archive, scratch)
        guard case .digestMismatch(let path, let expected, let actual) = error else { Issue.record("\(error)"); return }
        #expect(path == archive + ":blobs/sha256/" + image.manifest.hex)
        #expect(expected == image.manifest)
        #expect(actual == Digest.sha256(of: bytes))
    }

    @Test func aDescriptorWithTheWrongSizeIsRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let size = contents(image.blobPath(image.manifest)).count
        let index = "b'{\"schemaVersion\": 2, \"manifests\": [{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", "
            + "\"digest\": \"\(image.manifest)\", \"size\": \(size + 1)}]}'"
        let error = try refusal(try ociArchive(scratch, image, name: "size.tar", index: index), scratch)
        #expect(error.description.contains("is \(size) bytes, but index.json says \(size + 1)"), "\(error)")
    }

    @Test func aMissingBlobIsRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.gzip, .plain])
        for missing in [image.layers[1].digest, image.config, image.manifest] {
            let archive = try ociArchive(scratch, image, name: "missing.tar", skipping: [missing])
            let error = try refusal(archive, scratch)
            #expect(error.description.contains("names blobs/sha256/\(missing.hex), which the archive does not hold"), "\(error)")
        }
    }

    @Test func aDockerLayerThatIsNotItsDiffIDIsRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let other = try ImageFixture(in: scratch, name: "other", kinds: [.gzip])
        for layer in [other.blobPath(other.layers[0].digest), other.blobPath(other.config)] {
            let archive = try scratch.tar("diffid.tar", """
                add_file("config.json", "\(image.blobPath(image.config))")
                add_file("l/layer.tar", "\(layer)")
                add("manifest.json", data=b'[{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]')
                """)
            let error = try refusal(archive, scratch)
            guard case .digestMismatch(let path, let expected, _) = error else { Issue.record("\(error)"); return }
            #expect(path == archive + ":l/layer.tar")
            #expect(expected == image.diffIDs[0])
        }
        // Fewer layers than the config has diff ids.
        let short = try scratch.tar("short.tar", """
            add_file("config.json", "\(image.blobPath(image.config))")
            add("manifest.json", data=b'[{"Config": "config.json", "RepoTags": ["x:1"], "Layers": []}]')
            """)
        #expect(try refusal(short, scratch).description.contains("lists 1 diff ids, but manifest.json gives it 0 layers"))
    }

    @Test func oversizedDocumentsAreRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let padded = "b'{\"schemaVersion\": 2, \"manifests\": []' + b' ' * (5 << 20) + b'}'"
        let error = try refusal(try ociArchive(scratch, image, name: "big.tar", index: padded), scratch)
        #expect(error.description.contains("more than the 4 MiB an image document may have"), "\(error)")
        let docker = try scratch.tar("bigdocker.tar", "add(\"manifest.json\", data=b'[' + b' ' * (5 << 20) + b']')")
        #expect(try refusal(docker, scratch).path.hasSuffix(":manifest.json"))
    }

    @Test func malformedDocumentsAreRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        for (index, problem) in [("b'not json'", "is not JSON"), ("b'{\"manifests\": {}}'", "no \"manifests\" array"),
                                 ("b'{\"manifests\": []}'", "lists no images")] {
            let error = try refusal(try ociArchive(scratch, image, name: "index.tar", index: index), scratch)
            #expect(error.path.hasSuffix(":index.json"))
            #expect(error.description.contains(problem), "\(error)")
        }
        for manifest in ["b'{}'", "b'[{\"Config\": 3}]'", "b'[{\"Config\": \"c\", \"Layers\": [], \"RepoTags\": \"x\"}]'"] {
            let archive = try scratch.tar("docker.tar", "add(\"manifest.json\", data=\(manifest))")
            #expect(try refusal(archive, scratch).description.contains("is not a docker-archive manifest"))
        }
    }

    @Test func duplicateEntriesAreRefused() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let archive = try ociArchive(scratch, image, name: "dup.tar", extra: "add(\"./index.json\", data=b'{}')")
        let error = try refusal(archive, scratch)
        #expect(error.path == archive + ":index.json")
        #expect(error.description.contains("appears twice"))
    }

    @Test func stagingNeedsAnEmptyDirectory() throws {
        let scratch = try Scratch()
        let image = try ImageFixture(in: scratch, kinds: [.plain])
        let archive = scratch.base + "/good.tar"
        try ImageArchiveWriter.writeOCILayout(from: image.layout, manifest: image.manifest, refName: "t", to: archive)
        let staged = try scratch.directory("busy")
        try write(staged + "/keep", "mine")
        let error = thrown { _ = try ImageArchiveReader.stage(archive: archive, into: staged) }
        #expect(error?.description.contains("is not empty") == true)
        #expect(listing(staged) == ["keep"])
    }
}

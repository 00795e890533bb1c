import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataArchive

@Suite("LayerCompressor")
struct LayerCompressorTests {
    /// A layer tar of a few files (and 300 KB of varied bytes, so compression has work).
    private func makeTar(in scratch: Scratch) throws -> String {
        let tree = scratch.base + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        var bytes = [UInt8](repeating: 0, count: 300_000)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        try writeFile(tree + "/data", Data(bytes))
        try writeFile(tree + "/text", Data(String(repeating: "strata ", count: 5000).utf8))
        let tar = scratch.base + "/layer.tar"
        _ = try TreeArchiver.archive(source: tree, target: "/", to: tar)
        return tar
    }

    @Test("gzip and zstd blobs decompress to the tar, and the same tar gives the same blob", arguments: LayerCompressor.Compression.allCases)
    func roundTrip(compression: LayerCompressor.Compression) throws {
        let scratch = try Scratch()
        let tar = try makeTar(in: scratch)
        let blob = scratch.base + "/layer." + compression.rawValue
        let (digest, size) = try LayerCompressor.compress(tar, to: blob, with: compression)
        #expect(size == Int64(contents(blob).count))
        #expect(digest == Digest.sha256(of: contents(blob)))
        #expect(size < Int64(contents(tar).count))
        // Someone else's decompressor gives back the exact tar.
        let back = scratch.base + "/back.tar"
        let tool = compression == .gzip ? "import gzip, sys; open(sys.argv[2], 'wb').write(gzip.open(sys.argv[1]).read())"
                                        : "import subprocess, sys; open(sys.argv[2], 'wb').write(subprocess.run(['zstd', '-dc', sys.argv[1]], check=True, capture_output=True).stdout)"
        try run("/usr/bin/python3", ["-c", tool, blob, back])
        #expect(contents(back) == contents(tar))
        // Deterministic, whatever the clock says: the tar's own times change (the only times
        // the compressor could copy), and gzip's header below holds no timestamp.
        let time = timespec(tv_sec: 1_000_000_000, tv_nsec: 0)
        #expect(utimensat(AT_FDCWD, tar, [time, time], 0) == 0)
        let again = scratch.base + "/again." + compression.rawValue
        #expect(try LayerCompressor.compress(tar, to: again, with: compression).digest == digest)
        if compression == .gzip {
            let header = Array(contents(blob).prefix(10))
            #expect(header[0] == 0x1f && header[1] == 0x8b)
            #expect(header[3] & 0x08 == 0, "no file name in the header")
            #expect(header[4..<8].allSatisfy { $0 == 0 }, "no timestamp in the header")
        }
        #expect(compression.mediaType == "application/vnd.oci.image.layer.v1.tar+" + compression.rawValue)
    }

    @Test func missingTarIsUnreadable() throws {
        let scratch = try Scratch()
        #expect(throws: ArchiveError.self) {
            try LayerCompressor.compress(scratch.base + "/nope.tar", to: scratch.base + "/out.gz", with: .gzip)
        }
    }
}

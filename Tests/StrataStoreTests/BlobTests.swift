import Foundation
import Glibc
import StrataModel
import Synchronization
import Testing
@testable import StrataStore

@Suite("Blobs")
struct BlobTests {
    /// Bigger than the copy buffer, not a multiple of it.
    static let payload: [UInt8] = (0..<(3 * Store.copyBufferSize + 17)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    @Test("a file with the right digest and size is published, read-only, tmp left clean")
    func ingestGood() throws {
        try withTemporaryStore { store in
            let source = store.root + "/../source"
            try writeFile(source, Self.payload)
            let digest = Digest.sha256(of: Self.payload)
            #expect(!store.hasBlob(digest))
            try store.ingestBlob(copying: source, expected: digest, size: Int64(Self.payload.count))
            #expect(store.hasBlob(digest))
            #expect(readBytes(store.blobPath(digest)) == Self.payload)
            #expect(permissions(store.blobPath(digest)) == 0o444)
            #expect(entries(store.root + "/tmp").isEmpty)
            // Present already: nothing is copied, nothing fails.
            try store.ingestBlob(copying: source, expected: digest)
        }
    }

    @Test("a wrong digest publishes nothing")
    func ingestBadDigest() throws {
        try withTemporaryStore { store in
            let source = store.root + "/../source"
            try writeFile(source, Self.payload)
            let wrong = Digest.sha256(of: [1, 2, 3])
            #expect(throws: StoreError.digestMismatch(expected: wrong, actual: Digest.sha256(of: Self.payload), source: source)) {
                try store.ingestBlob(copying: source, expected: wrong)
            }
            #expect(!store.hasBlob(wrong))
            #expect(entries(store.root + "/blobs/sha256").isEmpty)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a wrong size publishes nothing, whether too small or too large")
    func ingestBadSize() throws {
        try withTemporaryStore { store in
            let source = store.root + "/../source"
            try writeFile(source, Self.payload)
            let digest = Digest.sha256(of: Self.payload)
            let actual = Int64(Self.payload.count)
            for claimed in [actual - 1, actual + 1, 0] {
                #expect(throws: StoreError.sizeMismatch(digest: digest, expected: claimed, actual: actual, source: source)) {
                    try store.ingestBlob(copying: source, expected: digest, size: claimed)
                }
            }
            #expect(!store.hasBlob(digest))
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a stream longer than its claimed size stops early and publishes nothing")
    func ingestStreamTooLong() throws {
        try withTemporaryStore { store in
            let fifo = store.root + "/../fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = ["-c", "head -c 5000 /dev/zero > \(fifo)"]
            try writer.run()
            let digest = Digest.sha256(of: [UInt8](repeating: 0, count: 10))
            #expect(throws: StoreError.self) {
                try store.ingestBlob(copying: fifo, expected: digest, size: 10)
            }
            writer.terminate()
            writer.waitUntilExit()
            #expect(!store.hasBlob(digest))
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a missing source is an io error naming it")
    func ingestMissing() throws {
        try withTemporaryStore { store in
            do throws(StoreError) {
                try store.ingestBlob(copying: "/nonexistent/x", expected: Digest.sha256(of: [1]))
                Issue.record("no error")
            } catch {
                guard case .io(let path, _) = error else { Issue.record("\(error)"); return }
                #expect(path == "/nonexistent/x")
            }
        }
    }

    @Test("bytes are stored under their sha256")
    func ingestBytes() throws {
        try withTemporaryStore { store in
            let bytes = Array("hello\n".utf8)
            let digest = try store.ingestBlob(bytes: bytes)
            #expect(digest.hex == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
            #expect(readBytes(store.blobPath(digest)) == bytes)
            #expect(try store.ingestBlob(bytes: bytes) == digest)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a caller's temporary file is hashed and renamed; a wrong expected digest deletes it")
    func publishTemporaryFile() throws {
        try withTemporaryStore { store in
            let good = store.temporaryPath("download")
            try writeFile(good, Self.payload)
            let digest = try store.publishBlob(temporaryFile: good)
            #expect(digest == Digest.sha256(of: Self.payload))
            #expect(readBytes(store.blobPath(digest)) == Self.payload)
            #expect(!FileManager.default.fileExists(atPath: good))

            let bad = store.temporaryPath("download")
            try writeFile(bad, [9, 9, 9])
            #expect(throws: StoreError.digestMismatch(expected: digest, actual: Digest.sha256(of: [9, 9, 9]), source: bad)) {
                try store.publishBlob(temporaryFile: bad, expected: digest)
            }
            #expect(!FileManager.default.fileExists(atPath: bad))
            #expect(!store.hasBlob(Digest.sha256(of: [9, 9, 9])))
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("only files directly under tmp/ can be published")
    func publishOutsideTmp() throws {
        try withTemporaryStore { store in
            let outside = store.root + "/../outside"
            try writeFile(outside, [1])
            #expect(throws: StoreError.self) { try store.publishBlob(temporaryFile: outside) }
            #expect(throws: StoreError.self) { try store.publishBlob(temporaryFile: store.root + "/tmp/../../outside") }
            #expect(FileManager.default.fileExists(atPath: outside))
        }
    }

    @Test("eight stores ingesting one blob at once leave one good blob")
    func concurrentIngest() throws {
        try withTemporaryStore { store in
            let source = store.root + "/../source"
            try writeFile(source, Self.payload)
            let digest = Digest.sha256(of: Self.payload)
            let root = store.root
            let failures = Mutex<[String]>([])
            onThreads(8) { _ in
                do throws(StoreError) {
                    try Store(root: root).ingestBlob(copying: source, expected: digest, size: Int64(Self.payload.count))
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(entries(store.root + "/blobs/sha256") == [digest.hex])
            #expect(readBytes(store.blobPath(digest)) == Self.payload)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }
}

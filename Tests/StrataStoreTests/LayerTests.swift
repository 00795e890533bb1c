import Foundation
import Glibc
import StrataModel
import Synchronization
import Testing
@testable import StrataStore

@Suite("Layers")
struct LayerTests {
    static func populate(_ tree: String) throws {
        try FileManager.default.createDirectory(atPath: tree + "/etc", withIntermediateDirectories: true)
        try writeFile(tree + "/etc/hostname", Array("strata\n".utf8))
        try writeFile(tree + "/hello", Array("hi\n".utf8), mode: 0o755)
        symlink("etc/hostname", tree + "/link")
    }

    @Test("the empty layer is an empty directory under the diff id of an empty tar")
    func emptyLayer() throws {
        try withTemporaryStore { store in
            let diffID = try store.emptyLayer()
            #expect(diffID == Digest.sha256(of: [UInt8](repeating: 0, count: 1024)))
            #expect(isDirectory(store.layerPath(diffID)))
            #expect(entries(store.layerPath(diffID)).isEmpty)
            #expect(permissions(store.layerPath(diffID)) == 0o755)
            #expect(try store.emptyLayer() == diffID)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a leftover tmp/layer-<hex> from a crashed attempt is cleaned up and the layer published")
    func leftoverFromCrash() throws {
        try withTemporaryStore { store in
            let diffID = LayerKeys.emptyLayer
            let leftover = store.root + "/tmp/layer-" + diffID.hex
            // What a killed unpack can leave: partial files, a mode-000 dir, a read-only dir,
            // a symlink pointing out of the store, a name that is not UTF-8.
            try FileManager.default.createDirectory(atPath: leftover + "/usr/lib/ro", withIntermediateDirectories: true)
            try writeFile(leftover + "/usr/lib/ro/partial", [1, 2, 3], mode: 0o400)
            chmod(leftover + "/usr/lib/ro", 0o555)
            try FileManager.default.createDirectory(atPath: leftover + "/locked/inner", withIntermediateDirectories: true)
            chmod(leftover + "/locked", 0)
            let outside = store.root + "/../precious"
            try writeFile(outside, [7])
            symlink(outside, leftover + "/escape")
            let oddName: [CChar] = Array((leftover + "/").utf8CString.dropLast()) + [CChar(bitPattern: 0xff), 0x41, 0]
            let fd = open(oddName, O_CREAT | O_WRONLY, 0o644)
            #expect(fd >= 0)
            close(fd)

            let (unpacked, _) = try store.publishLayerTree(diffID) { (_) throws(StoreError) -> [String] in [] }
            #expect(unpacked)
            #expect(entries(store.layerPath(diffID)).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(readBytes(outside) == [7])
        }
    }

    @Test("eight stores publishing one layer at once fill it exactly once")
    func concurrentPublishTree() throws {
        try withTemporaryStore { store in
            let root = store.root
            let fills = Atomic<Int>(0)
            let published = Atomic<Int>(0)
            let failures = Mutex<[String]>([])
            let diffID = try digest("c")
            onThreads(8) { _ in
                do {
                    let (unpacked, _) = try Store(root: root).publishLayerTree(diffID) { (directory) throws(StoreError) -> [String] in
                        fills.add(1, ordering: .sequentiallyConsistent)
                        usleep(20_000)
                        let fd = open(directory + "/file", O_CREAT | O_WRONLY, 0o644)
                        close(fd)
                        return []
                    }
                    if unpacked { published.add(1, ordering: .sequentiallyConsistent) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(fills.load(ordering: .sequentiallyConsistent) == 1)
            #expect(published.load(ordering: .sequentiallyConsistent) == 1)
            #expect(entries(store.layerPath(diffID)) == ["file"])
        }
    }

    @Test("a failing fill publishes nothing and leaves tmp clean")
    func failingFill() throws {
        try withTemporaryStore { store in
            let diffID = try digest("d")
            #expect(throws: StoreError.io(path: "x", reason: "boom")) {
                try store.publishLayerTree(diffID) { (directory) throws(StoreError) -> [String] in
                    close(open(directory + "/half", O_CREAT | O_WRONLY, 0o644))
                    throw .io(path: "x", reason: "boom")
                }
            }
            #expect(!store.hasLayer(diffID))
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a layer blob is unpacked once, then found")
    func publishFromBlob() throws {
        try withTemporaryStore { store in
            let (tar, diffID) = try makeLayerTar(in: store.root + "/..", name: "layer", populate: Self.populate)
            try store.ingestBlob(copying: tar, expected: diffID)
            let first = try store.publishLayer(diffID: diffID, fromBlob: diffID)
            #expect(first.unpacked)
            #expect(readBytes(store.layerPath(diffID) + "/etc/hostname") == Array("strata\n".utf8))
            #expect(permissions(store.layerPath(diffID) + "/hello") == 0o755)
            #expect(try store.publishLayer(diffID: diffID, fromBlob: diffID).unpacked == false)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a blob whose contents hash to another diff id publishes nothing")
    func diffIDMismatch() throws {
        try withTemporaryStore { store in
            let (tar, actual) = try makeLayerTar(in: store.root + "/..", name: "layer", populate: Self.populate)
            try store.ingestBlob(copying: tar, expected: actual)
            let pinned = try digest("e")
            #expect(throws: StoreError.diffIDMismatch(blob: actual, expected: pinned, actual: actual)) {
                try store.publishLayer(diffID: pinned, fromBlob: actual)
            }
            #expect(!store.hasLayer(pinned))
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a layer from a missing blob is missingBlob")
    func missingBlob() throws {
        try withTemporaryStore { store in
            let blob = try digest("a")
            #expect(throws: StoreError.missingBlob(blob)) { try store.publishLayer(diffID: blob, fromBlob: blob) }
        }
    }

    @Test("eight stores publishing one layer blob at once unpack it exactly once")
    func concurrentPublishLayer() throws {
        try withTemporaryStore { store in
            let (tar, diffID) = try makeLayerTar(in: store.root + "/..", name: "layer", populate: Self.populate)
            try store.ingestBlob(copying: tar, expected: diffID)
            let root = store.root
            let unpacks = Atomic<Int>(0)
            let failures = Mutex<[String]>([])
            onThreads(8) { _ in
                do {
                    if try Store(root: root).publishLayer(diffID: diffID, fromBlob: diffID).unpacked {
                        unpacks.add(1, ordering: .sequentiallyConsistent)
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(unpacks.load(ordering: .sequentiallyConsistent) == 1)
            #expect(readBytes(store.layerPath(diffID) + "/etc/hostname") == Array("strata\n".utf8))
        }
    }
}

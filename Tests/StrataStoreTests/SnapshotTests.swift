import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataStore

/// Publishes an empty layer under `diffID`, standing in for an unpacked one.
func fakeLayer(_ store: Store, _ diffID: Digest) throws {
    _ = try store.publishLayerTree(diffID) { (_) throws(StoreError) -> [String] in [] }
}

@Suite("Snapshots")
struct SnapshotTests {
    @Test("a one-layer snapshot's chain id is the layer's diff id")
    func singleLayer() throws {
        try withTemporaryStore { store in
            let a = try digest("a")
            try fakeLayer(store, a)
            let chain = try store.publishSnapshot(diffIDs: [a])
            #expect(chain == a)
            #expect(store.hasSnapshot(chain))
            #expect(try store.snapshotLayers(chain) == [a])
        }
    }

    @Test("a stack's chain id is sha256 of \"sha256:a sha256:b\", and it reads back")
    func chainID() throws {
        try withTemporaryStore { store in
            let a = try digest("a"), b = try digest("b"), c = try digest("c")
            for layer in [a, b, c] { try fakeLayer(store, layer) }
            let chainAB = Digest.sha256(of: Array("sha256:\(a.hex) sha256:\(b.hex)".utf8))
            #expect(try store.publishSnapshot(diffIDs: [a, b]) == chainAB)
            let chainABC = Digest.sha256(of: Array("\(chainAB) \(c)".utf8))
            #expect(try store.publishSnapshot(diffIDs: [a, b, c]) == chainABC)

            let record = readBytes(store.snapshotPath(chainABC)).map { String(decoding: $0, as: UTF8.self) }
            #expect(record == "\(a)\n\(b)\n\(c)\n")
            #expect(permissions(store.snapshotPath(chainABC)) == 0o444)
            #expect(try store.snapshotLayers(chainABC) == [a, b, c])
            #expect(try store.lowerDirs(for: chainABC) == [store.layerPath(c), store.layerPath(b), store.layerPath(a)])
            #expect(store.lowerDirs(forLayers: [a, b]) == [store.root + "/layers/" + b.hex, store.root + "/layers/" + a.hex])
            // Publishing again is a no-op returning the same id.
            #expect(try store.publishSnapshot(diffIDs: [a, b]) == chainAB)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("snapshots need layers that exist, and at least one")
    func refusals() throws {
        try withTemporaryStore { store in
            let a = try digest("a"), b = try digest("b")
            try fakeLayer(store, a)
            #expect(throws: StoreError.missingLayer(b)) { try store.publishSnapshot(diffIDs: [a, b]) }
            #expect(throws: StoreError.emptySnapshot) { try store.publishSnapshot(diffIDs: []) }
            #expect(throws: StoreError.missingSnapshot(b)) { try store.snapshotLayers(b) }
            #expect(!store.hasSnapshot(b))
        }
    }

    @Test("a record that does not match its chain id is reported corrupt")
    func corruptRecord() throws {
        try withTemporaryStore { store in
            let a = try digest("a"), b = try digest("b")
            try writeFile(store.snapshotPath(a), Array("\(b)\n".utf8))
            #expect(throws: StoreError.self) { try store.snapshotLayers(a) }
            try writeFile(store.snapshotPath(b), Array("sha256:nothex\n".utf8))
            do throws(StoreError) {
                _ = try store.snapshotLayers(b)
                Issue.record("no error")
            } catch {
                guard case .corrupt(let path, _) = error else { Issue.record("\(error)"); return }
                #expect(path == store.snapshotPath(b))
            }
        }
    }
}

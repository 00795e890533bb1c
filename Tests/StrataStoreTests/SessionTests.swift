import Foundation
import Glibc
import StrataModel
import Synchronization
import Testing
@testable import StrataStore

@Suite("Sessions")
struct SessionTests {
    static func snapshot(_ store: Store) throws -> Digest {
        try store.publishSnapshot(diffIDs: [try store.emptyLayer()])
    }

    @Test("a session gets upper, work, root and a record")
    func create() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            let record = try store.createSession(snapshot: chain, name: "dev", environment: "python")
            #expect(Store.isSessionID(record.id))
            #expect(record.path == store.root + "/sessions/" + record.id)
            #expect(record.name == "dev")
            #expect(record.snapshot == chain)
            #expect(record.environment == "python")
            #expect(abs(record.created - Int64(time(nil))) < 60)
            #expect(permissions(record.path) == 0o700)
            #expect(permissions(record.upperPath) == 0o755)
            #expect(permissions(record.workPath) == 0o700)
            #expect(permissions(record.rootPath) == 0o700, "a mount point: the overlay mounted on it has the upper dir's mode")
            #expect(entries(record.upperPath).isEmpty && entries(record.workPath).isEmpty)
            #expect(try store.session(named: "dev") == record)
            #expect(try store.session(named: record.id) == record)
            #expect(try store.session(named: "other") == nil)
            #expect(try store.listSessions() == [record])
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("names are unique, checked, and share one namespace with ids")
    func names() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            let first = try store.createSession(snapshot: chain, name: "dev", environment: "e")
            #expect(throws: StoreError.sessionExists("dev")) {
                try store.createSession(snapshot: chain, name: "dev", environment: "e")
            }
            #expect(throws: StoreError.sessionExists(first.id)) {
                try store.createSession(snapshot: chain, name: first.id, environment: "e")
            }
            for bad in ["", "-x", "a/b", "a b", String(repeating: "a", count: 129)] {
                #expect(throws: StoreError.self) { try store.createSession(snapshot: chain, name: bad, environment: "e") }
            }
            #expect(throws: StoreError.self) { try store.createSession(snapshot: chain, name: nil, environment: "a\nb") }
            let unnamed1 = try store.createSession(snapshot: chain, name: nil, environment: "e")
            let unnamed2 = try store.createSession(snapshot: chain, name: nil, environment: "e")
            #expect(unnamed1.id != unnamed2.id && unnamed1.name == nil)
            #expect(Set(try store.listSessions().map(\.id)) == [first.id, unnamed1.id, unnamed2.id])
        }
    }

    @Test("a session needs a published snapshot")
    func missingSnapshot() throws {
        try withTemporaryStore { store in
            let chain = try digest("f")
            #expect(throws: StoreError.missingSnapshot(chain)) {
                try store.createSession(snapshot: chain, name: nil, environment: "e")
            }
        }
    }

    @Test("eight stores creating one name at once: exactly one wins")
    func concurrentNames() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            let root = store.root
            let created = Atomic<Int>(0)
            let refused = Atomic<Int>(0)
            onThreads(8) { _ in
                do throws(StoreError) {
                    _ = try Store(root: root).createSession(snapshot: chain, name: "same", environment: "e")
                    created.add(1, ordering: .sequentiallyConsistent)
                } catch .sessionExists {
                    refused.add(1, ordering: .sequentiallyConsistent)
                } catch {}
            }
            #expect(created.load(ordering: .sequentiallyConsistent) == 1)
            #expect(refused.load(ordering: .sequentiallyConsistent) == 7)
            #expect(try store.listSessions().count == 1)
        }
    }

    @Test("removal copes with what overlayfs leaves behind and follows no symlink")
    func remove() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            let record = try store.createSession(snapshot: chain, name: "dev", environment: "e")
            // overlayfs leaves a root-owned mode-000 work/work; upper holds whiteouts (0:0 char devices),
            // read-only dirs and whatever names the session wrote.
            let workWork = record.workPath + "/work"
            try FileManager.default.createDirectory(atPath: workWork + "/deep", withIntermediateDirectories: true)
            try writeFile(workWork + "/deep/file", [1])
            chmod(workWork + "/deep", 0)
            chmod(workWork, 0)
            #expect(mknod(record.upperPath + "/whiteout", S_IFCHR | 0o000, 0) == 0)
            try FileManager.default.createDirectory(atPath: record.upperPath + "/ro/sub", withIntermediateDirectories: true)
            chmod(record.upperPath + "/ro", 0o500)
            let outside = store.root + "/../precious"
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try writeFile(outside + "/keep", [7])
            symlink(outside, record.upperPath + "/escape")
            symlink(outside + "/keep", record.upperPath + "/escape-file")

            try store.removeSession("dev")
            #expect(!FileManager.default.fileExists(atPath: record.path))
            #expect(try store.listSessions().isEmpty)
            #expect(readBytes(outside + "/keep") == [7])
            #expect(entries(store.root + "/tmp").isEmpty)
            #expect(throws: StoreError.noSuchSession("dev")) { try store.removeSession("dev") }
            #expect(throws: StoreError.noSuchSession(record.id)) { try store.removeSession(record.id) }
        }
    }

    @Test("a session that is locked or mounted is not removed")
    func inUse() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            let record = try store.createSession(snapshot: chain, name: nil, environment: "e")
            let running = try store.lock("session-" + record.id)
            #expect(throws: StoreError.sessionInUse(record.id)) { try store.removeSession(record.id) }
            running.release()

            #expect(mount("tmpfs", record.rootPath, "tmpfs", 0, nil) == 0)
            try writeFile(record.rootPath + "/inside", [1])
            #expect(throws: StoreError.sessionInUse(record.id)) { try store.removeSession(record.id) }
            #expect(readBytes(record.rootPath + "/inside") == [1])
            #expect(umount(record.rootPath) == 0)

            try store.removeSession(record.id)
            #expect(try store.session(named: record.id) == nil)
        }
    }
}

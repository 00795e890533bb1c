import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataStore

@Suite("Volumes and session records")
struct VolumeStoreTests {
    static func snapshot(_ store: Store) throws -> Digest {
        try store.publishSnapshot(diffIDs: [try store.emptyLayer()])
    }

    @Test("a session records its manifest and volumes; records without them still read")
    func recordFields() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            let record = try store.createSession(
                snapshot: chain, name: "dev", environment: "e", manifest: "/src/envs/e.json", volumes: ["cache", "db", "cache"])
            #expect(record.manifest == "/src/envs/e.json")
            #expect(record.volumes == ["cache", "db"])
            #expect(try store.session(named: "dev") == record)
            // The volumes exist as soon as a session records them.
            #expect(try store.listVolumes().map(\.name) == ["cache", "db"])

            let old = try store.createSession(snapshot: chain, name: "old", environment: "e")
            let file = old.path + "/record"
            let text = "id=\(old.id)\nname=old\nsnapshot=\(chain)\nenvironment=e\ncreated=\(old.created)\n"
            unlink(file)
            try writeFile(file, Array(text.utf8), mode: 0o600)
            let reread = try #require(try store.session(named: "old"))
            #expect(reread.manifest == nil && reread.volumes.isEmpty && reread == old)
        }
    }

    @Test("bad manifest paths and volume names are refused before anything is created")
    func badRecordFields() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            #expect(throws: StoreError.self) { try store.createSession(snapshot: chain, name: nil, environment: "e", manifest: "relative.json") }
            #expect(throws: StoreError.self) { try store.createSession(snapshot: chain, name: nil, environment: "e", manifest: "/a\nb") }
            #expect(throws: StoreError.self) { try store.createSession(snapshot: chain, name: nil, environment: "e", volumes: ["a,b"]) }
            #expect(try store.listSessions().isEmpty && store.listVolumes().isEmpty)
        }
    }

    @Test("isRunning is true exactly while the session's lock is held, and leaves no lock file")
    func running() throws {
        try withTemporaryStore { store in
            let record = try store.createSession(snapshot: try Self.snapshot(store), name: nil, environment: "e")
            #expect(!store.isRunning(record))
            #expect(!FileManager.default.fileExists(atPath: store.root + "/locks/session-" + record.id))
            let held = try store.lock("session-" + record.id)
            #expect(store.isRunning(record))
            #expect(store.isRunning(record))
            #expect(throws: StoreError.sessionInUse(record.id)) { try store.removeSession(record.id) }
            held.release()
            #expect(!store.isRunning(record))
            try store.removeSession(record.id)
        }
    }

    @Test("create is idempotent; _data is a 0755 directory; list, find, inspect")
    func create() throws {
        try withTemporaryStore { store in
            let (volume, created) = try store.createVolume("pip-cache")
            #expect(created)
            #expect(volume.path == store.root + "/volumes/pip-cache")
            #expect(volume.dataPath == store.volumeDataPath("pip-cache"))
            #expect(permissions(volume.dataPath) == 0o755 && isDirectory(volume.dataPath))
            #expect(permissions(store.root + "/volumes") == 0o700)
            #expect(abs(volume.created - Int64(time(nil))) < 60)
            try writeFile(volume.dataPath + "/kept", Array("x".utf8))
            let again = try store.createVolume("pip-cache")
            #expect(!again.created && again.volume == volume)
            #expect(entries(volume.dataPath) == ["kept"])
            _ = try store.createVolume("A.b_c-1")
            #expect(try store.listVolumes().map(\.name) == ["A.b_c-1", "pip-cache"])
            #expect(try store.volume(named: "pip-cache") == volume)
            #expect(try store.volume(named: "other") == nil)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("volume names follow Docker's rule", arguments: ["", ".", "..", "-a", "_a", "a/b", "a b", "a,b", "é", String(repeating: "v", count: 129)])
    func badNames(name: String) throws {
        #expect(!Manifest.Mount.isValidVolumeName(name))
        try withTemporaryStore { (store: Store) throws in
            #expect(throws: StoreError.self) { try store.createVolume(name) }
            #expect(throws: StoreError.self) { try store.removeVolume(name) }
            #expect(try store.listVolumes().isEmpty)
        }
    }

    @Test("rm removes an unused volume; a volume any session mounts is refused, naming the sessions")
    func remove() throws {
        try withTemporaryStore { store in
            let chain = try Self.snapshot(store)
            #expect(throws: StoreError.noSuchVolume("nope")) { try store.removeVolume("nope") }
            _ = try store.createVolume("free")
            try writeFile(store.volumeDataPath("free") + "/f", [1])
            try store.removeVolume("free")
            #expect(try store.volume(named: "free") == nil)
            #expect(!FileManager.default.fileExists(atPath: store.volumePath("free")))

            let kept = try store.createSession(snapshot: chain, name: "kept", environment: "e", volumes: ["db"])
            #expect(throws: StoreError.volumeInUse("db", sessions: ["kept"], running: false)) { try store.removeVolume("db") }
            let held = try store.lock("session-" + kept.id)
            #expect(throws: StoreError.volumeInUse("db", sessions: ["kept"], running: true)) { try store.removeVolume("db") }
            held.release()
            try store.removeSession("kept")
            try store.removeVolume("db")
            #expect(try store.listVolumes().isEmpty)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }
}

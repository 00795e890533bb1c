import Glibc
import StrataEngineTestSupport
import StrataEnvironment
import StrataImages
import StrataLock
import StrataModel
import StrataOS
import StrataStore
import Testing
@testable import StrataBuild
@testable import StrataGC

/// gc on a real store: what roots reach stays, everything else goes, and a dry run lists
/// exactly what a real run removes.
@Suite("gc: roots and sweeping")
struct CollectorTests {
    /// Two environments on one busybox layer, each with a file of its own.
    struct Two {
        let fixture: EngineFixture
        let shared: Digest
        let a: (LoadedEnvironment, Lockfile, BuildResult)
        let b: (LoadedEnvironment, Lockfile, BuildResult)
    }

    func buildTwo() throws -> Two {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        try fixture.write("a/file", "a\n")
        try fixture.write("b/file", "b\n")
        func build(_ name: String) throws -> (LoadedEnvironment, Lockfile, BuildResult) {
            let environment = try fixture.environment(name, """
                {"steps": [{"tar": "../images/busybox.tar"}, {"copy": {"from": "../\(name)", "to": "/\(name)"}}]}
                """)
            let (lockfile, _) = try Locker(store: fixture.store, context: fixture.context).lock(environment)
            return (environment, lockfile, try Builder(store: fixture.store, context: fixture.context).build(environment, lockfile: lockfile))
        }
        let a = try build("a"), b = try build("b")
        return Two(fixture: fixture, shared: a.1.pinnedLayers[0].diffID, a: a, b: b)
    }

    func collect(_ fixture: EngineFixture, _ options: CollectionOptions = CollectionOptions()) throws -> CollectionReport {
        try Collector(store: fixture.store, context: fixture.context).collect(options)
    }

    @Test("a removed lockfile's own layers, blobs and snapshot go; what it shared stays; a dry run lists the same")
    func removedLockfile() throws {
        let two = try buildTwo()
        let store = two.fixture.store
        #expect(try collect(two.fixture).removed.filter { $0.kind != .temporary && $0.kind != .cacheEntry }.isEmpty,
                "both lockfiles are roots")
        unlink(two.a.0.paths.lockfile)
        let dry = try collect(two.fixture, CollectionOptions(dryRun: true))
        let aLayer = two.a.1.pinnedLayers[1]
        #expect(Set(dry.removed.filter { $0.kind == .layer }.map(\.name)) == [aLayer.diffID.description])
        #expect(dry.removed.contains { $0.kind == .blob && $0.name == aLayer.digest.description })
        #expect(dry.removed.contains { $0.kind == .snapshot && $0.name == two.a.2.snapshot.description })
        #expect(dry.removed.contains { $0.kind == .buildRoot && $0.name == two.a.0.paths.lockfile })
        #expect(store.hasLayer(aLayer.diffID) && store.hasSnapshot(two.a.2.snapshot), "a dry run removes nothing")

        let real = try collect(two.fixture)
        #expect(real.removed.map(\.name) == dry.removed.map(\.name))
        #expect(real.freedBytes > 0 && real.freedBytes == dry.freedBytes)
        #expect(!store.hasLayer(aLayer.diffID) && !store.hasBlob(aLayer.digest) && !store.hasSnapshot(two.a.2.snapshot))
        #expect(store.hasLayer(two.shared), "the layer b shares stays")
        #expect(store.hasSnapshot(two.b.2.snapshot))
        for layer in two.b.1.pinnedLayers { #expect(store.hasLayer(layer.diffID) && store.hasBlob(layer.digest)) }
        #expect(try store.buildRoots().map(\.path) == [two.b.0.paths.lockfile])
        #expect(try collect(two.fixture).removed.isEmpty, "a second gc finds nothing")
        // b still builds and runs on what is left, without fetching anything.
        #expect(try Builder(store: store, context: two.fixture.context).build(two.b.0, lockfile: two.b.1).unpackedLayers == 0)
    }

    @Test("a lockfile changed since its build keeps only what it still pins")
    func changedLockfile() throws {
        let two = try buildTwo()
        try two.fixture.write("a/file", "changed\n")
        _ = try Locker(store: two.fixture.store, context: two.fixture.context).lock(two.a.0)
        let report = try collect(two.fixture)
        let old = two.a.1.pinnedLayers[1]
        #expect(report.removed.contains { $0.name == old.diffID.description }, "the old copy layer is not pinned any more")
        #expect(report.removed.contains { $0.name == two.a.2.snapshot.description })
        #expect(two.fixture.store.hasLayer(two.shared), "the busybox layer is still pinned")
        #expect(try two.fixture.store.buildRoots().count == 2, "the record stays: its file still exists")
    }

    @Test("a lockfile that cannot be read keeps what was built from it, and says so")
    func unreadableLockfile() throws {
        let two = try buildTwo()
        try HostFile.writeAtomically(Array("{not json".utf8), to: two.a.0.paths.lockfile)
        let report = try collect(two.fixture)
        #expect(!report.removed.contains { $0.kind == .layer || $0.kind == .snapshot })
        #expect(report.notes.contains { $0.contains(two.a.0.paths.lockfile) && $0.contains("not a lockfile") })
    }

    @Test("a session's snapshot and layers survive the removal of its lockfile, until the session goes")
    func sessionRoot() throws {
        let two = try buildTwo()
        let store = two.fixture.store
        let session = try store.createSession(snapshot: two.a.2.snapshot, name: "kept", environment: "a")
        unlink(two.a.0.paths.lockfile)
        let report = try collect(two.fixture)
        #expect(!report.removed.contains { $0.kind == .layer || $0.kind == .snapshot })
        #expect(store.hasSnapshot(two.a.2.snapshot))
        for layer in two.a.1.pinnedLayers { #expect(store.hasLayer(layer.diffID)) }
        try store.removeSession(session.id)
        _ = try collect(two.fixture)
        #expect(!store.hasSnapshot(two.a.2.snapshot) && !store.hasLayer(two.a.1.pinnedLayers[1].diffID))
    }

    @Test("a tagged image keeps its blobs; once untagged, they go")
    func imageRoot() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let images = ImageStore(store: fixture.store, context: fixture.context)
        let reference = try ImageReference(parsing: "box:1")
        let manifest = try images.importRootfs(fixture.project + "/images/busybox.tar", options: RootfsImportOptions(reference: reference))
        #expect(try collect(fixture).removed.filter { $0.kind == .blob }.isEmpty)
        #expect(fixture.store.hasBlob(manifest))
        _ = try images.untag("box:1")
        let report = try collect(fixture)
        #expect(report.removed.contains { $0.kind == .blob && $0.name == manifest.description })
        #expect(report.removed.filter { $0.kind == .blob }.count == 3, "manifest, config and layer")
        #expect(try fixture.store.storedBlobs().isEmpty)
    }

    @Test("a tagged image whose manifest cannot be parsed stops gc before it removes anything")
    func unreadableImage() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let images = ImageStore(store: fixture.store, context: fixture.context)
        let manifest = try images.importRootfs(fixture.project + "/images/busybox.tar",
                                               options: RootfsImportOptions(reference: try ImageReference(parsing: "box:1")))
        let path = fixture.store.blobPath(manifest)
        chmod(path, 0o644)
        try HostFile.writeAtomically(Array("not json".utf8), to: path)
        let blobs = try fixture.store.storedBlobs()
        #expect(throws: StrataError.self) { try collect(fixture) }
        #expect(try fixture.store.storedBlobs() == blobs, "nothing was removed")
    }

    @Test("temporaries of processes that are gone go; those of live ones stay")
    func temporaries() throws {
        let fixture = try EngineFixture()
        let store = fixture.store
        let mine = store.temporaryPath("download")
        try FileSystem.createFile(mine, contents: [1], mode: 0o600)
        // A pid no process has: above the kernel's pid_max.
        let dead = store.temporaryDirectory + "/download.99999999.0123456789abcdef"
        try FileSystem.makeDirectory(dead, mode: 0o700)
        try FileSystem.createFile(dead + "/part", contents: [1, 2, 3], mode: 0o600)
        let crashedLayer = store.temporaryDirectory + "/layer-" + String(repeating: "ab", count: 32)
        try FileSystem.makeDirectory(crashedLayer, mode: 0o755)
        let report = try collect(fixture)
        #expect(Set(report.removed.map(\.name)) == [FileSystem.split(dead).name, FileSystem.split(crashedLayer).name])
        #expect(FileSystem.exists(mine) && !FileSystem.exists(dead) && !FileSystem.exists(crashedLayer))
    }

    @Test("a session whose record a power cut emptied is no session, and gc removes its directory")
    func lostSession() throws {
        let two = try buildTwo()
        let store = two.fixture.store
        let lost = try store.createSession(snapshot: two.a.2.snapshot, name: nil, environment: "a")
        let kept = try store.createSession(snapshot: two.a.2.snapshot, name: "kept", environment: "a", durable: true)
        // What ext4 can leave of a record written without fsync when the power goes.
        try HostFile.writeAtomically([], to: lost.path + "/record")
        #expect(try store.listSessions().map(\.id) == [kept.id])
        let report = try collect(two.fixture)
        #expect(report.removed.filter { $0.kind == .lostSession }.map(\.name) == [lost.id])
        #expect(!FileSystem.exists(lost.path) && FileSystem.exists(kept.path))
    }

    @Test("--keep-recent keeps unneeded objects younger than it")
    func keepRecent() throws {
        let two = try buildTwo()
        unlink(two.a.0.paths.lockfile)
        two.fixture.clock.advance(by: Int64(time(nil)) - two.fixture.clock.now + 60)
        let kept = try collect(two.fixture, CollectionOptions(keepRecent: 3600))
        #expect(!kept.removed.contains { $0.kind == .layer || $0.kind == .blob || $0.kind == .snapshot })
        #expect(kept.keptRecent >= 3)
        let removed = try collect(two.fixture, CollectionOptions(keepRecent: 30))
        #expect(removed.removed.contains { $0.kind == .layer })
    }

    @Test("gc waits for every lease, and a lease waits for gc")
    func leases() throws {
        let fixture = try EngineFixture()
        func gcCanStart() throws -> Bool {
            guard let held = try fixture.store.tryLock("gc") else { return false }
            held.release()
            return true
        }
        let lease = try fixture.store.leaseObjects()
        #expect(try !gcCanStart(), "a lease holds gc off")
        lease.release()
        #expect(!lease.isHeld)
        #expect(try gcCanStart(), "a released lease does not")
    }
}

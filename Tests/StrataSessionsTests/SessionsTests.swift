import Glibc
import StrataArchive
import StrataBuild
import StrataEngineTestSupport
import StrataEnvironment
import StrataLock
import StrataModel
import StrataOS
import StrataStore
import Testing
@testable import StrataSessions

@Suite("Sessions: a snapshot → running sessions")
struct SessionsTests {
    func built(_ fixture: EngineFixture, manifest: String = #"{"steps": [{"tar": "../images/busybox.tar"}]}"#)
        throws -> (LoadedEnvironment, Lockfile, Digest) {
        try fixture.busyboxRoot(extra: ["/etc/motd": "lower\n"])
        let environment = try fixture.environment("app", manifest)
        let (lockfile, _) = try Locker(store: fixture.store, context: fixture.context).lock(environment)
        let built = try Builder(store: fixture.store, context: fixture.context).build(environment, lockfile: lockfile)
        return (environment, lockfile, built.snapshot)
    }

    @Test("a command's exit status is the session's; an unnamed session is removed, a named one kept")
    func runAndKeep() throws {
        let fixture = try EngineFixture()
        let (environment, lockfile, snapshot) = try built(fixture)
        let sessions = Sessions(store: fixture.store, context: fixture.context)
        #expect(try sessions.run(environment, lockfile: lockfile, snapshot: snapshot, options: RunOptions(argv: ["sh", "-c", "exit 7"])) == 7)
        #expect(try sessions.list().isEmpty)
        let options = RunOptions(argv: ["sh", "-c", "echo hi > /hi; rm /etc/motd"], name: "work")
        #expect(try sessions.run(environment, lockfile: lockfile, snapshot: snapshot, options: options) == 0)
        let listed = try sessions.list()
        #expect(listed.map(\.record.name) == ["work"] && listed.first?.running == false)
        #expect(try sessions.diff("work").map(\.description) == ["C /etc", "D /etc/motd", "A /hi"])
        try sessions.remove("work")
        #expect(try sessions.list().isEmpty)
    }

    @Test("an export is the session's whole tree: the snapshot with its changes, deletions absent")
    func export() throws {
        let fixture = try EngineFixture()
        let (environment, lockfile, snapshot) = try built(fixture)
        let sessions = Sessions(store: fixture.store, context: fixture.context)
        let options = RunOptions(argv: ["sh", "-c", "echo hi > /hi; rm /etc/motd"], name: "work")
        #expect(try sessions.run(environment, lockfile: lockfile, snapshot: snapshot, options: options) == 0)
        let output = fixture.base + "/work.tar"
        try sessions.export("work", to: output)
        let reader = try TarFileReader(path: output)
        var names: Set<String> = []
        while let entry = try reader.next() { if let name = entry.name { names.insert(name) } }
        #expect(names.contains("hi") && names.contains("bin/busybox") && names.contains("etc/passwd"), "\(names.sorted())")
        #expect(!names.contains("etc/motd"), "a deleted file is not in the export")
        #expect(try Directory.names(fixture.base).filter { $0.hasPrefix(".work.tar") }.isEmpty, "no partial file is left")
        #expect(try Directory.names(fixture.store.temporaryDirectory).isEmpty, "the flattened tree is gone")
        #expect(throws: StrataError.self) { try sessions.export("nosuch", to: fixture.base + "/x.tar") }
    }

    @Test("volumes outlive sessions; one a session mounts cannot be removed")
    func volumes() throws {
        let fixture = try EngineFixture()
        let manifest = #"{"steps": [{"tar": "../images/busybox.tar"}], "mounts": [{"type": "volume", "name": "data", "target": "/data"}]}"#
        let (environment, lockfile, snapshot) = try built(fixture, manifest: manifest)
        let sessions = Sessions(store: fixture.store, context: fixture.context)
        let options = RunOptions(argv: ["sh", "-c", "echo kept > /data/f"], name: "writer")
        #expect(try sessions.run(environment, lockfile: lockfile, snapshot: snapshot, options: options) == 0)
        #expect(try sessions.volumes().map(\.name) == ["data"])
        #expect(try HostFile.read(fixture.store.volumeDataPath("data") + "/f") == Array("kept\n".utf8))
        #expect(try sessions.sessions(usingVolume: "data") == ["writer"])
        #expect(throws: StrataError.self) { try sessions.removeVolume("data") }
        try sessions.remove("writer")
        try sessions.removeVolume("data")
        try sessions.removeVolume("data", force: true)
        #expect(try sessions.volumes().isEmpty)
    }
}

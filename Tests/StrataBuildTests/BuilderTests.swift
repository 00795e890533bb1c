import Glibc
import StrataEngineTestSupport
import StrataEnvironment
import StrataLock
import StrataModel
import StrataOS
import StrataStore
import Testing
@testable import StrataBuild

@Suite("Building: lockfile → layers")
struct BuilderTests {
    func locked(_ fixture: EngineFixture) throws -> (LoadedEnvironment, Lockfile) {
        try fixture.busyboxRoot()
        let environment = try fixture.environment("app", #"{"steps": [{"tar": "../images/busybox.tar"}]}"#)
        let (lockfile, _) = try Locker(store: fixture.store, context: fixture.context).lock(environment)
        return (environment, lockfile)
    }

    @Test("a build unpacks what is missing and records the snapshot; a second one does nothing")
    func buildsOnce() throws {
        let fixture = try EngineFixture()
        let (environment, lockfile) = try locked(fixture)
        let builder = Builder(store: fixture.store, context: fixture.context)
        let first = try builder.build(environment, lockfile: lockfile)
        #expect(first.unpackedLayers == 1)
        #expect(first.snapshot == lockfile.snapshotID)
        #expect(fixture.store.hasSnapshot(first.snapshot))
        #expect(try builder.build(environment, lockfile: lockfile).unpackedLayers == 0)
        // The lockfile is a gc root from now on, recorded under its path.
        #expect(try fixture.store.buildRoots() == [BuildRoot(path: environment.paths.lockfile, lockDigest: lockfile.digest, snapshot: first.snapshot)])
    }

    @Test("a cancelled request publishes no layer and no snapshot")
    func cancelled() throws {
        let fixture = try EngineFixture()
        let (environment, lockfile) = try locked(fixture)
        let context = fixture.context
        context.cancellation.cancel()
        #expect {
            _ = try Builder(store: fixture.store, context: context).build(environment, lockfile: lockfile)
        } throws: { error in
            if case .cancelled? = error as? StrataError { return true }
            return false
        }
        #expect(try Directory.names(fixture.store.root + "/layers").isEmpty)
        #expect(try Directory.names(fixture.store.root + "/snapshots").isEmpty)
    }

    @Test("a layer step's changes — files, deletions, directories — become a normalized layer")
    func layerStep() throws {
        let fixture = try EngineFixture()
        let (environment, lockfile) = try locked(fixture)
        let builder = Builder(store: fixture.store, context: fixture.context)
        _ = try builder.build(environment, lockfile: lockfile)
        let below = try #require(LayerKeys.snapshot(of: lockfile))
        let key = Digest.sha256(of: Array("a layer step of the test".utf8))
        let step = LayerStep(
            key: key, below: below, argv: ["/bin/sh", "-c", "echo made > /made; rm /etc/passwd; mkdir /d; echo log > /step.log; echo odd > \"/d/$(printf 'x\\377y')\""],
            environment: ["PATH=/bin"], epoch: 1000, leftovers: ["/step.log"], label: "app+step")
        guard case .success = try builder.run(step) else {
            Issue.record("the step's command failed")
            return
        }
        let layer = fixture.store.layerPath(key)
        #expect(try HostFile.read(layer + "/made") == Array("made\n".utf8))
        let whiteout = try #require(try FileSystem.status(layer + "/etc/passwd"))
        #expect(whiteout.st_mode & S_IFMT == S_IFCHR && whiteout.st_rdev == 0, "the deletion is a whiteout")
        #expect((try FileSystem.status(layer + "/d")).map { $0.st_mode & S_IFMT } == S_IFDIR)
        #expect(try FileSystem.status(layer + "/step.log") == nil, "leftovers are removed")
        #expect(try FileSystem.status(layer + "/made")?.st_mtim.tv_sec == 1000, "mtimes are clamped to the epoch")
        var odd = stat()
        let oddName: [CChar] = Array((layer + "/d/x").utf8CString.dropLast()) + [CChar(bitPattern: 0xff), 0x79, 0]
        #expect(lstat(oddName, &odd) == 0 && odd.st_mtim.tv_sec == 1000, "a name that is not UTF-8 is normalized too")
        #expect(try Directory.names(fixture.store.root + "/sessions").isEmpty, "the step's session is gone")

        var failing = step
        failing.key = Digest.sha256(of: Array("a failing step".utf8))
        failing.argv = ["/bin/sh", "-c", "echo why > /why.log; exit 3"]
        failing.log = "/why.log"
        guard case .failure(let failure) = try builder.run(failing) else {
            Issue.record("a failing command published a layer")
            return
        }
        #expect(failure.status == 3 && failure.log == "why\n")
        #expect(!fixture.store.hasLayer(failing.key))
    }
}

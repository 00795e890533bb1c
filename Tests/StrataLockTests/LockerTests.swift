import Glibc
import StrataEngineTestSupport
import StrataEnvironment
import StrataModel
import StrataOS
import Testing
@testable import StrataLock

@Suite("Locking: manifest → lockfile")
struct LockerTests {
    static let manifest = #"{"steps": [{"tar": "../images/busybox.tar"}, {"copy": {"from": "../files", "to": "/opt/files"}}]}"#

    func fixture() throws -> (EngineFixture, LoadedEnvironment) {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        try fixture.write("files/a.txt", "alpha\n")
        return (fixture, try fixture.environment("app", Self.manifest))
    }

    @Test("a lock is written once, then left as it is while its inputs stay the same")
    func writesOnce() throws {
        let (fixture, environment) = try fixture()
        let locker = Locker(store: fixture.store, context: fixture.context)
        let (first, written) = try locker.lock(environment)
        #expect(written == .written)
        #expect(first.steps.count == 2)
        #expect(try locker.lock(environment).1 == .unchanged)
        #expect(try locker.staleness(environment) == nil)
        try fixture.write("files/a.txt", "beta\n")
        #expect(try locker.staleness(environment) == "the copied ../files changed")
    }

    @Test("a stale lockfile is re-locked and said; frozen, it is refused")
    func staleLockfiles() throws {
        let (fixture, environment) = try fixture()
        let locker = Locker(store: fixture.store, context: fixture.context)
        _ = try locker.lock(environment)
        let changed = try fixture.environment("app", #"{"env": {"A": "1"}, "steps": [{"tar": "../images/busybox.tar"}]}"#)
        var frozen = locker
        frozen.frozen = true
        #expect(throws: StrataError.self) { try frozen.lockfileForUse(changed) }
        _ = try locker.lockfileForUse(changed)
        #expect(fixture.notes.all.contains { $0.hasPrefix("re-locked") && $0.contains("the manifest changed") }, "\(fixture.notes.all)")
        #expect(try locker.staleness(changed) == nil)
    }

    @Test("a lockfile that cannot be read is left as it is; only a full update replaces it")
    func unreadableLockfile() throws {
        let (fixture, environment) = try fixture()
        let locker = Locker(store: fixture.store, context: fixture.context)
        try fixture.write("lockfiles/app.lock.json", "<<<<<<< HEAD\n")
        for attempt in [{ _ = try locker.lock(environment) }, { _ = try locker.lockfileForUse(environment) },
                        { _ = try locker.lock(environment, update: .packages(["x"])) }] {
            #expect {
                try attempt()
            } throws: { error in
                if case .unreadableLockfile? = error as? StrataError { return true }
                return false
            }
            #expect(try fixture.read("lockfiles/app.lock.json") == "<<<<<<< HEAD\n")
        }
        #expect(try locker.staleness(environment)?.hasPrefix("it cannot be read") == true)
        #expect(try locker.lock(environment, update: .all).1 == .written)
        #expect(try locker.staleness(environment) == nil)
    }

    @Test("inputs are remembered by their fingerprint only once they settled (by the request's clock)")
    func settledInputsAreRemembered() throws {
        let (fixture, environment) = try fixture()
        let locker = Locker(store: fixture.store, context: fixture.context)
        let cache = fixture.store.root + "/cache/inputs"
        _ = try locker.lock(environment)
        #expect(((try? Directory.names(cache)) ?? []).isEmpty, "inputs changed this second are not remembered")
        fixture.clock.advance(by: Int64(InputCache.settle) + 1)
        _ = try locker.lock(environment)
        #expect(((try? Directory.names(cache)) ?? []).count == 2, "a tarball and a copied tree")
        try fixture.write("files/a.txt", "gamma\n")
        #expect(try locker.staleness(environment) == "the copied ../files changed", "a remembered input still sees changes")
    }
}

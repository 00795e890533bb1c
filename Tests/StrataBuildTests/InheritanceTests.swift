import Glibc
import StrataEngineTestSupport
import StrataEnvironment
import StrataLock
import StrataModel
import StrataOS
import StrataStore
import Testing
@testable import StrataBuild

@Suite("Inheritance: \"from\": {\"env\": …}")
struct InheritanceTests {
    @Test("a child has its parent's layers, files and env under its own; its lockfile pins the parent's")
    func childSeesParent() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        try fixture.write("files/hi", "hello\n")
        _ = try fixture.environment("base", #"""
        {"steps": [{"tar": "../images/busybox.tar"}, {"copy": {"from": "../files", "to": "/opt/files"}},
                   {"run": "echo base > /base"}],
         "env": {"FROM_BASE": "1", "SHARED": "base"}, "workdir": "/opt"}
        """#)
        let child = try fixture.environment("child", #"""
        {"from": {"env": "base"}, "steps": [{"run": "cat /base /opt/files/hi; echo $FROM_BASE $SHARED; pwd"}], "env": {"SHARED": "child"}}
        """#)
        #expect(child.manifest.steps.count == 4 && child.manifest.workdir == "/opt")
        #expect(child.manifest.env == ["FROM_BASE": "1", "SHARED": "child"])
        #expect(child.manifest.steps[1] == .copy(from: "../files", to: "/opt/files"), "the parent's paths, from the child's directory")
        #expect(child.stepOrigins[0].file.hasSuffix("envs/base.json") && child.stepOrigins[3].file.hasSuffix("envs/child.json"))
        let locker = Locker(store: fixture.store, context: fixture.context)
        let (lockfile, _) = try locker.lock(child)
        let parentLock = try #require(try child.parent?.paths.readLockfile(), "the parent was locked first")
        #expect(lockfile.parent == LockedParent(reference: "base", lockfile: Digest.sha256(of: parentLock.encoded())))
        let events = Events()
        var context = fixture.context
        context.events = { events.append($0) }
        _ = try Builder(store: fixture.store, context: context).build(child, lockfile: lockfile)
        #expect(events.output == "base\nhello\n1 child\n/opt\n")
    }

    @Test("a stale parent is re-locked first, and makes the child stale")
    func staleParent() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let base = #"{"steps": [{"tar": "../images/busybox.tar"}, {"run": "echo one > /base"}]}"#
        _ = try fixture.environment("base", base)
        let child = try fixture.environment("child", #"{"from": {"env": "base"}}"#)
        let locker = Locker(store: fixture.store, context: fixture.context)
        _ = try locker.lock(child)
        #expect(try locker.staleness(child) == nil)
        _ = try fixture.environment("base", base.replacingFirst("one", with: "two"))
        let reloaded = try LoadedEnvironment(paths: child.paths)
        #expect(try locker.staleness(reloaded)?.hasPrefix("the lockfile of base, which it extends, is stale: step 2 (run: echo two > /base) changed") == true)
        let (fresh, _) = try locker.lock(reloaded)
        #expect(try locker.staleness(reloaded) == nil)
        #expect(fixture.notes.all.contains { $0.hasPrefix("locked ") && $0.hasSuffix("base.lock.json, which child extends") })
        #expect(fresh.steps.last == .run(Manifest.RunStep(command: .shell("echo two > /base"))))
    }

    @Test("a cycle is one error naming the chain; a missing parent is named")
    func cycles() throws {
        let fixture = try EngineFixture()
        try fixture.write("envs/a.json", #"{"from": {"env": "b"}}"#)
        try fixture.write("envs/b.json", #"{"from": {"env": "a"}}"#)
        #expect {
            _ = try LoadedEnvironment(paths: EnvironmentPaths(argument: "a", currentDirectory: fixture.project))
        } throws: { error in
            "\(error)".contains("in a cycle: \(fixture.project)/envs/a.json → \(fixture.project)/envs/b.json → \(fixture.project)/envs/a.json")
        }
        try fixture.write("envs/c.json", #"{"from": {"env": "nosuch"}}"#)
        #expect {
            _ = try LoadedEnvironment(paths: EnvironmentPaths(argument: "c", currentDirectory: fixture.project))
        } throws: { error in "\(error)".contains(#""from": {"env": "nosuch"} names no manifest"#) }
        try fixture.write("envs/d.json", #"{"packages": ["curl"], "from": {"env": "e"}}"#)
        try fixture.write("envs/e.json", #"{}"#)
        #expect {
            _ = try LoadedEnvironment(paths: EnvironmentPaths(argument: "d", currentDirectory: fixture.project))
        } throws: { error in "\(error)".contains(#""packages" needs a Debian base"#) }
    }
}

import StrataEnvironment
import StrataModel
import Testing

@Suite("Requests and environments")
struct RequestContextTests {
    @Test("SOURCE_DATE_EPOCH comes from the request, and a bad one is a usage error")
    func sourceDateEpoch() throws {
        #expect(try RequestContext(variables: ["SOURCE_DATE_EPOCH": "1700000000"]).sourceDateEpoch() == 1_700_000_000)
        #expect(try RequestContext(variables: ["SOURCE_DATE_EPOCH": ""]).sourceDateEpoch() == nil)
        #expect(try RequestContext().sourceDateEpoch() == nil)
        #expect {
            _ = try RequestContext(variables: ["SOURCE_DATE_EPOCH": "yesterday"]).sourceDateEpoch()
        } throws: { error in
            (error as? StrataError)?.exitCode == 2 && "\(error)".contains("SOURCE_DATE_EPOCH=yesterday")
        }
    }

    @Test("Debian mirrors: the request's own, then its STRATA_DEBIAN_MIRROR, then the manifest's")
    func mirrorOrder() throws {
        let source = Manifest.DebianSource(suite: "bookworm", mirrors: ["http://manifest.invalid/debian"])
        let variable = RequestContext(variables: ["STRATA_DEBIAN_MIRROR": "http://a.invalid http://b.invalid"])
        #expect(DebianMirrors.list(source, override: ["http://flag.invalid"], context: variable) == ["http://flag.invalid"])
        #expect(DebianMirrors.list(source, override: [], context: variable) == ["http://a.invalid", "http://b.invalid"])
        #expect(DebianMirrors.list(source, override: [], context: RequestContext()) == ["http://manifest.invalid/debian"])
    }

    @Test("a cancelled request stops at its next check")
    func cancellation() throws {
        let context = RequestContext()
        try context.cancellation.check()
        context.cancellation.cancel()
        #expect(context.cancellation.isCancelled)
        #expect(throws: StrataError.self) { try context.cancellation.check() }
    }

    @Test("ENV names envs/NAME.json under the caller's directory; the lockfile goes to lockfiles/")
    func paths() throws {
        let fixture = try TemporaryProject()
        let paths = try EnvironmentPaths(argument: "app", currentDirectory: fixture.directory)
        #expect(paths.manifest == fixture.directory + "/envs/app.json")
        #expect(paths.lockfile == fixture.directory + "/lockfiles/app.lock.json")
        #expect(paths.resolve("../files") == fixture.directory + "/files")
        #expect(throws: StrataError.self) { try EnvironmentPaths(argument: "missing", currentDirectory: fixture.directory) }
        #expect(try paths.readLockfile() == nil)
    }

    @Test("variables: the manifest's over the image's, each keeping its place; PATH when neither sets it")
    func variables() {
        let variables = EnvironmentVariables(image: ["A=image", "B=image"], manifest: ["A": "manifest", "C": "manifest"])
        #expect(variables.entries == ["A=manifest", "B=image", "C=manifest", "PATH=" + EnvironmentVariables.defaultPath])
    }
}

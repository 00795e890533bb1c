import Foundation
import Testing

/// What registries and networks do wrong, through scripts/registry-fault-proxy.py in front
/// of docker-registry: refused or survived as each should, nothing half-written in the store.
@Suite struct RegistryFaultTests {
    /// A registry holding busybox as `test/busybox:1` (pushed by skopeo), behind a proxy with `fault`.
    struct Setup {
        let harness: Harness
        let registry: TestRegistry
        let proxy: FaultProxy
        var image: String { "\(proxy.host)/test/busybox:1" }
        func stop() {
            proxy.stop()
            registry.stop()
            harness.cleanup()
        }
    }

    static func setUp(fault: String?, access: TestRegistry.Access = .open, credentials: String? = nil) throws -> Setup? {
        guard TestRegistry.installed() else { return nil }
        let harness = try Harness()
        let registry = try TestRegistry(in: harness.project + "/registry", access: access)
        let pushed = registry.push(harness, to: "test/busybox:1", credentials: credentials)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let proxy = try FaultProxy(in: harness.project + "/proxy", upstream: registry, fault: fault, upstreamAuth: credentials)
        return Setup(harness: harness, registry: registry, proxy: proxy)
    }

    /// Nothing tagged, no blob of the image kept, nothing left in the store's tmp/.
    static func expectNothingStored(_ harness: Harness) {
        #expect(harness.strata(["images", "-q"]).stdout.isEmpty, "nothing was tagged")
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/tmp")) ?? []
        #expect(tmp.isEmpty, "nothing half-written: \(tmp)")
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/blobs/sha256")) ?? []
        #expect(blobs.count <= 2, "at most the manifest and config were kept: \(blobs)")
    }

    @Test func aCorruptedBlobIsRefused() throws {
        guard let setup = try Self.setUp(fault: "corrupt-blob") else { return }
        defer { setup.stop() }
        let pull = setup.harness.strata(["pull", setup.image])
        #expect(pull.status == 1 && pull.stderr.contains("arrived with the digest") && pull.stderr.contains("nothing was stored"), "\(pull.stderr)")
        #expect(pull.stderr.split(separator: "\n").count == 1, "one sentence: \(pull.stderr)")
        Self.expectNothingStored(setup.harness)
    }

    @Test func aTruncatedBlobIsRefused() throws {
        guard let setup = try Self.setUp(fault: "truncate-blob") else { return }
        defer { setup.stop() }
        let pull = setup.harness.strata(["pull", setup.image])
        #expect(pull.status == 1 && pull.stderr.contains("bytes, not the") && pull.stderr.contains("its manifest says"), "\(pull.stderr)")
        Self.expectNothingStored(setup.harness)
    }

    @Test func aConnectionCutHalfwayResumesWithRange() throws {
        guard let setup = try Self.setUp(fault: "cut-once") else { return }
        defer { setup.stop() }
        let pull = setup.harness.strata(["pull", setup.image])
        #expect(pull.status == 0, "\(pull.stderr)")
        let resumed = setup.proxy.requests().filter { $0.range != nil && $0.path.contains("/blobs/") }
        #expect(!resumed.isEmpty && resumed.allSatisfy { $0.range?.hasPrefix("bytes=") == true && $0.status == 206 },
                "the cut blob was asked for from where it stopped: \(setup.proxy.requests().map { "\($0.method) \($0.path) \($0.range ?? "")" })")
        try setup.harness.manifest("pulled", #"{"from": {"image": "\#(setup.image)"}}"#)
        let run = setup.harness.strata(["run", "pulled", "--", "ls", "/bin/sh"])
        #expect(run.status == 0, "the resumed layer is whole: \(run.stderr)")
    }

    @Test func tooManyRequestsWaitsAsRetryAfterSays() throws {
        guard let setup = try Self.setUp(fault: "429-once") else { return }
        defer { setup.stop() }
        let pull = setup.harness.strata(["pull", setup.image])
        #expect(pull.status == 0, "\(pull.stderr)")
        let push = setup.harness.strata(["push", setup.image, "\(setup.proxy.host)/test/again:1"])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(setup.proxy.requests().filter { $0.status == 429 }.count >= 4)
    }

    @Test func aRedirectToAnotherHostGetsNoCredentials() throws {
        guard let setup = try Self.setUp(fault: "redirect-blobs", access: .basic(user: "alice", password: "s3cret"), credentials: "alice:s3cret") else { return }
        defer { setup.stop() }
        try setup.harness.write("auth.json", #"{"auths": {"\#(setup.proxy.host)": {"auth": "YWxpY2U6czNjcmV0"}}}"#)
        let pull = setup.harness.strata(["pull", setup.image], env: ["REGISTRY_AUTH_FILE": setup.harness.project + "/auth.json"])
        #expect(pull.status == 0, "\(pull.stderr)")
        let requests = setup.proxy.requests()
        let redirected = requests.filter { $0.listener != "127.0.0.1" }
        #expect(!redirected.isEmpty && redirected.allSatisfy { !$0.auth }, "\(requests.map { "\($0.listener) \($0.path) auth=\($0.auth)" })")
        #expect(requests.contains { $0.listener == "127.0.0.1" && $0.auth && $0.status == 307 })
    }

    @Test func aTokenThatExpiresWhileLayersMoveIsRenewed() throws {
        guard let setup = try Self.setUp(fault: "expire-once", access: .tokens(user: nil)) else { return }
        defer { setup.stop() }
        let pull = setup.harness.strata(["pull", setup.image], env: ["HOME": setup.harness.project + "/home"])
        #expect(pull.status == 0, "\(pull.stderr)")
        let requests = setup.proxy.requests()
        #expect(requests.contains { $0.fault == "expire-once" && $0.status == 401 }, "\(requests.map { "\($0.method) \($0.path) \($0.status ?? 0)" })")
        #expect(requests.filter { $0.path == "/v2/" }.count >= 2, "asked for a new token after the 401")
    }

    @Test func chunkedUploadsSurviveAPatchAnswered201() throws {
        guard let setup = try Self.setUp(fault: "patch-201") else { return }
        defer { setup.stop() }
        #expect(setup.harness.strata(["pull", setup.image]).status == 0)
        // Forget where the blobs were seen, so they are uploaded, not mounted.
        try FileManager.default.removeItem(atPath: setup.harness.store + "/cache/registry-blobs")
        let push = setup.harness.strata(["push", setup.image, "\(setup.proxy.host)/test/chunked:1"], env: ["STRATA_UPLOAD_CHUNK_SIZE": "200000"])
        #expect(push.status == 0, "\(push.stderr)")
        let patches = setup.proxy.requests().filter { $0.method == "PATCH" }
        #expect(patches.count >= 5 && patches.allSatisfy { $0.status == 201 }, "\(patches.map { "\($0.path) \($0.status ?? 0)" })")
        let copy = Harness.exec(["/usr/bin/skopeo", "copy", "--src-tls-verify=false", "docker://\(setup.registry.host)/test/chunked:1",
                                 "oci:\(setup.harness.project)/chunked:1"], cwd: setup.harness.project, env: [:])
        #expect(copy.status == 0, "the chunked blob is whole: \(copy.stderr)")
    }

    @Test func relativeLocationsAndAChunkMinimumAreFollowed() throws {
        guard let relative = try Self.setUp(fault: "relative-locations") else { return }
        defer { relative.stop() }
        #expect(relative.harness.strata(["pull", relative.image]).status == 0)
        try FileManager.default.removeItem(atPath: relative.harness.store + "/cache/registry-blobs")
        let monolithic = relative.harness.strata(["push", relative.image, "\(relative.proxy.host)/test/whole:1"])
        #expect(monolithic.status == 0 && monolithic.stderr.contains("2 blobs uploaded"), "\(monolithic.stderr)")
        try FileManager.default.removeItem(atPath: relative.harness.store + "/cache/registry-blobs")
        let chunked = relative.harness.strata(["push", relative.image, "\(relative.proxy.host)/test/parts:1"], env: ["STRATA_UPLOAD_CHUNK_SIZE": "200000"])
        #expect(chunked.status == 0, "\(chunked.stderr)")
        #expect(relative.proxy.requests().contains { $0.fault == "relative-locations" && $0.method == "POST" })

        guard let minimum = try Self.setUp(fault: "chunk-min") else { return }
        defer { minimum.stop() }
        #expect(minimum.harness.strata(["pull", minimum.image]).status == 0)
        try FileManager.default.removeItem(atPath: minimum.harness.store + "/cache/registry-blobs")
        let push = minimum.harness.strata(["push", minimum.image, "\(minimum.proxy.host)/test/min:1"], env: ["STRATA_UPLOAD_CHUNK_SIZE": "200000"])
        #expect(push.status == 0, "\(push.stderr)")
        let patches = minimum.proxy.requests().filter { $0.method == "PATCH" }
        // The 1 MB layer in chunks of the registry's 300000, the last one what is left.
        #expect(patches.count == 4 && patches.dropLast().allSatisfy { $0.length == 300_000 }, "\(patches.map { $0.length ?? -1 })")
    }

    /// The store remembers a repository that had the blob; the registry no longer has it there,
    /// answers the mount with 202 (an upload opened), and the blob is uploaded into that upload.
    @Test func aMountAnswered202BecomesAnUpload() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        RegistryPushTests.committed(harness)
        // The same address (a proxy's port) in front of a first registry, then of an empty one.
        let first = try TestRegistry(in: harness.project + "/first")
        let before = try FaultProxy(in: harness.project + "/before", upstream: first)
        #expect(harness.strata(["push", "app:1", "\(before.host)/team/app:1"]).status == 0)
        before.stop()
        first.stop()
        let again = try TestRegistry(in: harness.project + "/again")
        defer { again.stop() }
        let proxy = try FaultProxy(in: harness.project + "/proxy", upstream: again, port: before.port)
        defer { proxy.stop() }
        let push = harness.strata(["push", "app:1", "\(proxy.host)/team/other:1"])
        #expect(push.status == 0 && push.stderr.contains("3 blobs uploaded, 0 mounted"), "\(push.stderr)")
        let mounts = proxy.requests().filter { $0.method == "POST" && $0.path.contains("mount=") }
        #expect(mounts.count == 3 && mounts.allSatisfy { $0.status == 202 }, "each mount was tried and opened an upload: \(mounts.map(\.path))")
        #expect(!proxy.requests().contains { $0.method == "POST" && !$0.path.contains("mount=") }, "no second upload was opened")
        let copy = Harness.exec(["/usr/bin/skopeo", "copy", "--src-tls-verify=false", "docker://\(again.host)/team/other:1",
                                 "oci:\(harness.project)/other:1"], cwd: harness.project, env: [:])
        #expect(copy.status == 0, "\(copy.stderr)")
    }

    @Test func refusalsAreOneSentence() throws {
        guard let setup = try Self.setUp(fault: nil, access: .basic(user: "alice", password: "s3cret"), credentials: "alice:s3cret") else { return }
        defer { setup.stop() }
        let harness = setup.harness
        let anonymous = ["HOME": harness.project + "/nobody"]
        let push = harness.strata(["push", "app:1", "\(setup.proxy.host)/test/x:1"], env: anonymous)
        #expect(push.status == 1 && push.stderr.contains("no image app:1"), "\(push.stderr)")
        let refused = harness.strata(["pull", setup.image], env: anonymous)
        #expect(refused.status == 1 && refused.stderr.contains("no credentials were found"), "\(refused.stderr)")
        try harness.write("wrong.json", #"{"auths": {"\#(setup.proxy.host)": {"username": "alice", "password": "nope"}}}"#)
        let wrong = harness.strata(["pull", setup.image], env: ["REGISTRY_AUTH_FILE": harness.project + "/wrong.json"])
        #expect(wrong.status == 1 && wrong.stderr.contains("were refused"), "\(wrong.stderr)")
        try harness.write("right.json", #"{"auths": {"\#(setup.proxy.host)": {"username": "alice", "password": "s3cret"}}}"#)
        let right = ["REGISTRY_AUTH_FILE": harness.project + "/right.json"]
        let unknownRepository = harness.strata(["pull", "\(setup.proxy.host)/nobody/here:1"], env: right)
        #expect(unknownRepository.status == 1 && unknownRepository.stderr.contains("has no image nobody/here:1"), "\(unknownRepository.stderr)")
        let unknownTag = harness.strata(["pull", "\(setup.proxy.host)/test/busybox:9"], env: right)
        #expect(unknownTag.status == 1 && unknownTag.stderr.contains("has no image test/busybox:9"), "\(unknownTag.stderr)")
        for result in [refused, wrong, unknownRepository, unknownTag] {
            #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
        }
        Self.expectNothingStored(harness)
    }
}

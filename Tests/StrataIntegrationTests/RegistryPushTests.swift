import Foundation
import Testing
import StrataHostTestSupport

/// `strata push`, and registry bases pinned by `strata lock`, against docker-registry on
/// 127.0.0.1 (through the fault proxy without a fault, to see every request).
@Suite struct RegistryPushTests {
    /// A store image with a layer of its own on busybox: `app:1`, whose `/from-registry` says "pushed".
    static func committed(_ harness: Harness) {
        try? harness.manifest("base", #"{"from": {"image": "oci:../images/busybox:latest"}}"#)
        let run = harness.strata(["run", "--name", "s", "base", "--", "sh", "-c", "echo pushed > /from-registry"])
        #expect(run.status == 0, "\(run.stderr)")
        let commit = harness.strata(["commit", "s", "--tag", "app:1"])
        #expect(commit.status == 0, "\(commit.stderr)")
    }

    @Test func pushThenPullIntoAnEmptyStoreAndBuildOnThePinnedDigest() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        let proxy = try FaultProxy(in: harness.project + "/proxy", upstream: registry)
        defer { proxy.stop() }
        Self.committed(harness)

        let push = harness.strata(["push", "app:1", "\(proxy.host)/team/app:1"])
        #expect(push.status == 0 && push.stdout.hasPrefix("\(proxy.host)/team/app:1 sha256:"), "\(push.stdout) \(push.stderr)")
        #expect(push.stderr.contains("3 blobs uploaded, 0 mounted, 0 already there"), "\(push.stderr)")
        let digest = push.stdout.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        #expect(proxy.requests().contains { $0.method == "PUT" && $0.path == "/v2/team/app/manifests/1" && $0.status == 201 })

        proxy.clearLog()
        let again = harness.strata(["push", "app:1", "\(proxy.host)/team/app:1"])
        #expect(again.status == 0 && again.stdout == push.stdout, "\(again.stderr)")
        #expect(again.stderr.contains("0 blobs uploaded, 0 mounted, 3 already there"), "\(again.stderr)")
        #expect(!proxy.requests().contains { $0.method == "POST" || $0.method == "PATCH" || ($0.method == "PUT" && $0.path.contains("/blobs/")) },
                "a second push uploads no blob: \(proxy.requests().map { "\($0.method) \($0.path)" })")

        proxy.clearLog()
        let other = harness.strata(["push", "app:1", "\(proxy.host)/team/other:2"])
        #expect(other.status == 0 && other.stderr.contains("0 blobs uploaded, 3 mounted"), "\(other.stderr)")
        #expect(proxy.requests().contains { $0.method == "POST" && $0.path.contains("mount=") && $0.path.contains("from=team%2Fapp") && $0.status == 201 })

        let empty = ["STRATA_ROOT": harness.project + "/pulled-store"]
        let pull = harness.strata(["pull", "\(proxy.host)/team/app:1"], env: empty)
        #expect(pull.status == 0 && pull.stdout == "\(proxy.host)/team/app:1 \(digest)\n", "\(pull.stdout) \(pull.stderr)")
        let byDigest = harness.strata(["pull", "\(proxy.host)/team/app@\(digest)"], env: empty)
        #expect(byDigest.status == 0 && byDigest.stdout == "\(proxy.host)/team/app@\(digest) \(digest)\n", "\(byDigest.stderr)")
        #expect(harness.strata(["images"], env: empty).stdout.contains("\(proxy.host)/team/app:1"))
        let export = harness.strata(["image", "export", "\(proxy.host)/team/app:1", "-o", "pulled.tar"], env: empty)
        #expect(export.status == 0, "a pulled image exports: \(export.stderr)")

        // A registry base: the lock pins its digests; a build in an empty store pulls them by digest.
        try harness.manifest("onpulled", #"{"from": {"image": "\#(proxy.host)/team/app:1"}, "steps": [{"run": "cp /from-registry /copy"}]}"#)
        let fresh = ["STRATA_ROOT": harness.project + "/build-store"]
        let lock = harness.strata(["lock", "onpulled"], env: fresh)
        #expect(lock.status == 0, "\(lock.stderr)")
        let lockfile = try harness.read("lockfiles/onpulled.lock.json")
        #expect(lockfile.contains(#""manifest": "\#(digest)""#) && lockfile.contains(#""repository": "\#(proxy.host)/team/app""#), "\(lockfile)")
        #expect(!lockfile.contains("Authorization") && !lockfile.contains("password"))
        proxy.clearLog()
        let built = harness.strata(["run", "onpulled", "--", "cat", "/copy"], env: ["STRATA_ROOT": harness.project + "/build-store-2"])
        #expect(built.status == 0 && built.stdout == "pushed\n", "\(built.stdout) \(built.stderr)")
        let asked = proxy.requests().filter { $0.path.contains("/manifests/") }
        #expect(!asked.isEmpty && asked.allSatisfy { $0.path.hasSuffix("/manifests/\(digest)") },
                "the build asks for the pinned digest, never the tag: \(asked.map(\.path))")
        proxy.clearLog()
        let second = harness.strata(["build", "onpulled"], env: ["STRATA_ROOT": harness.project + "/build-store-2"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(proxy.requests().isEmpty, "a second build asks the registry nothing: \(proxy.requests().map(\.path))")
        let session = harness.strata(["run", "--name", "top", "onpulled", "--", "sh", "-c", "echo on top > /top"],
                                     env: ["STRATA_ROOT": harness.project + "/build-store-2"])
        let commit = harness.strata(["commit", "top", "--tag", "top:1"], env: ["STRATA_ROOT": harness.project + "/build-store-2"])
        #expect(session.status == 0 && commit.status == 0, "a session on the pulled base commits: \(commit.stderr)")
        let frozen = harness.strata(["build", "onpulled"], env: fresh.merging(["CI": "true"]) { $1 })
        #expect(frozen.status == 0, "a lockfile pinning the base is current under --frozen: \(frozen.stderr)")
    }

    @Test(.sharedHostCgroups) func skopeoAndPodmanReadWhatStrataPushedAndStrataPullsWhatSkopeoPushed() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        Self.committed(harness)
        #expect(harness.strata(["push", "app:1", "\(registry.host)/team/app:1"]).status == 0)

        let copy = Harness.exec(["/usr/bin/skopeo", "copy", "--src-tls-verify=false", "docker://\(registry.host)/team/app:1",
                                 "oci:\(harness.project)/copied:1"], cwd: harness.project, env: [:])
        #expect(copy.status == 0, "skopeo reads strata's push: \(copy.stderr)")
        let podman = ["/usr/bin/podman", "--root", harness.project + "/podman/root", "--runroot", harness.project + "/podman/run",
                      "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
        let run = Harness.exec(podman + ["run", "--rm", "--tls-verify=false", "--runtime", "runc", "--network", "none",
                                         "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
                                         "\(registry.host)/team/app:1", "cat", "/from-registry"], cwd: harness.project, env: [:])
        #expect(run.stdout == "pushed\n", "podman runs strata's push: \(run.stderr)")
        _ = Harness.exec(podman + ["rmi", "-a", "-f"], cwd: harness.project, env: [:])

        let pushed = registry.push(harness, to: "skopeo/busybox:1")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let pull = harness.strata(["pull", "\(registry.host)/skopeo/busybox:1"])
        #expect(pull.status == 0, "\(pull.stderr)")
        // Docker's own manifest format (schema 2), as docker push writes it.
        let docker = Harness.exec(["/usr/bin/skopeo", "copy", "--format", "v2s2", "--dest-tls-verify=false", "oci:images/busybox:latest",
                                   "docker://\(registry.host)/skopeo/docker:1"], cwd: harness.project, env: [:])
        #expect(docker.status == 0, "\(docker.stderr)")
        let pullDocker = harness.strata(["pull", "\(registry.host)/skopeo/docker:1"])
        #expect(pullDocker.status == 0, "\(pullDocker.stderr)")
        try harness.manifest("docker", #"{"from": {"image": "\#(registry.host)/skopeo/docker:1"}}"#)
        let onDocker = harness.strata(["run", "docker", "--", "echo", "ran"])
        #expect(onDocker.stdout == "ran\n", "\(onDocker.stderr)")
        let back = harness.strata(["push", "\(registry.host)/skopeo/docker:1", "\(registry.host)/skopeo/docker-again:1"])
        let inspect = Harness.exec(["/usr/bin/skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/skopeo/docker-again:1"],
                                   cwd: harness.project, env: [:])
        #expect(back.status == 0 && inspect.stdout.contains("application/vnd.docker.distribution.manifest.v2+json"),
                "pushed with the Content-Type of its own media type: \(back.stderr) \(inspect.stdout.prefix(300))")
    }

    /// With bearer tokens, a push that mounts asks one token for both repositories: docker-registry
    /// mounts only when the token lets the pusher pull the source (else it opens an upload).
    @Test func aTokenRegistryMountsWithOneTokenForBothRepositories() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry", access: .tokens(user: (name: "bob", password: "pw")))
        defer { registry.stop() }
        Self.committed(harness)
        try harness.write("auth.json", #"{"auths": {"\#(registry.host)": {"auth": "Ym9iOnB3"}}}"#)
        let auth = ["REGISTRY_AUTH_FILE": harness.project + "/auth.json"]
        let first = harness.strata(["push", "app:1", "\(registry.host)/team/a:1"], env: auth)
        #expect(first.status == 0 && first.stderr.contains("3 blobs uploaded"), "\(first.stderr)")
        let second = harness.strata(["push", "app:1", "\(registry.host)/team/b:1"], env: auth)
        #expect(second.status == 0 && second.stderr.contains("0 blobs uploaded, 3 mounted"), "\(second.stderr)")
        let refused = harness.strata(["push", "app:1", "\(registry.host)/team/c:1"], env: ["HOME": harness.project + "/nobody"])
        #expect(refused.status == 1 && refused.stderr.contains("no credentials were found"), "\(refused.stderr)")
    }

    /// On a terminal, a line per layer as docker draws them; in a pipe, one plain line.
    @Test func aTerminalShowsALinePerLayer() throws {
        guard TestRegistry.installed(), TerminalSession.available else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        Self.committed(harness)
        let inner = "STRATA_ROOT='\(harness.store)' TERM=xterm '\(Harness.binary)' push app:1 \(registry.host)/team/app:1; "
            + "STRATA_ROOT='\(harness.project)/other' TERM=xterm '\(Harness.binary)' pull \(registry.host)/team/app:1; sleep 60"
        guard let terminal = TerminalSession.start(inner, in: harness.project, columns: 120) else {
            Issue.record("tmux did not start")
            return
        }
        defer { terminal.close() }
        let done = terminal.waitForScreen { $0.contains("already in the store") }
        let screen = terminal.screen
        #expect(done, "\(screen)")
        #expect(screen.components(separatedBy: ": Pushed").count - 1 == 3, "a line for each of the 3 blobs: \(screen)")
        #expect(screen.components(separatedBy: ": Download complete").count - 1 == 3, "\(screen)")
        let piped = harness.strata(["pull", "\(registry.host)/team/app:1"], env: ["STRATA_ROOT": harness.project + "/third"])
        #expect(piped.status == 0 && !piped.stderr.contains("\u{1B}"), "\(piped.stderr)")
        #expect(piped.stderr == "strata: pulled from \(registry.host)/team/app: 3 blobs downloaded (1.0 MB), 0 already in the store\n", "\(piped.stderr)")
    }

    /// An index of two platforms pulls this machine's image, and the lock pins the index too.
    @Test func aMultiPlatformIndexPullsTheAmd64Image() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        // A layout whose index names busybox for amd64 and a manifest for arm64 of the same blobs.
        let layout = harness.project + "/images/busybox"
        let made = Harness.exec(["/usr/bin/python3", "-c", Self.makeIndex, layout], cwd: "/", env: [:])
        #expect(made.status == 0, "\(made.stderr)")
        let copy = Harness.exec(["/usr/bin/skopeo", "copy", "--all", "--dest-tls-verify=false", "oci:\(layout):multi",
                                 "docker://\(registry.host)/multi/busybox:1"], cwd: harness.project, env: [:])
        #expect(copy.status == 0, "\(copy.stderr)")
        let pull = harness.strata(["pull", "\(registry.host)/multi/busybox:1"])
        #expect(pull.status == 0, "\(pull.stderr)")
        try harness.manifest("multi", #"{"from": {"image": "\#(registry.host)/multi/busybox:1"}}"#)
        let run = harness.strata(["run", "multi", "--", "uname", "-m"])
        #expect(run.status == 0 && run.stdout == "x86_64\n", "\(run.stdout) \(run.stderr)")
        let lockfile = try harness.read("lockfiles/multi.lock.json")
        let indexDigest = pull.stdout.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        #expect(lockfile.contains(#""index": "\#(indexDigest)""#), "the lock names the index digest too: \(lockfile)")
        // Only this platform's image arrived, so only it can go back (as skopeo copy without --all).
        let back = harness.strata(["push", "\(registry.host)/multi/busybox:1", "\(registry.host)/multi/copy:1"])
        #expect(back.status == 0 && !back.stdout.contains(indexDigest) && back.stderr.contains("image alone"), "\(back.stdout) \(back.stderr)")
    }

    /// Adds tag "multi" to an OCI layout: an index of its image for linux/amd64 and a copy of
    /// that manifest (another digest: an annotation) declared linux/arm64.
    static let makeIndex = #"""
    import hashlib, json, os, sys
    layout = sys.argv[1]
    index = json.load(open(os.path.join(layout, "index.json")))
    image = index["manifests"][0]
    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        open(os.path.join(layout, "blobs", "sha256", digest), "wb").write(data)
        return "sha256:" + digest, len(data)
    manifest = json.load(open(os.path.join(layout, "blobs", "sha256", image["digest"].split(":")[1])))
    manifest["annotations"] = {"strata.test": "arm64"}
    arm, arm_size = blob(json.dumps(manifest).encode())
    entries = [
        {"mediaType": image["mediaType"], "digest": image["digest"], "size": image["size"], "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": image["mediaType"], "digest": arm, "size": arm_size, "platform": {"os": "linux", "architecture": "arm64"}},
    ]
    digest, size = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode())
    index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size,
                               "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    json.dump(index, open(os.path.join(layout, "index.json"), "w"))
    """#
}

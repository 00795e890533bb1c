import Foundation
import Testing

/// `strata pull` against a real registry (docker-registry on 127.0.0.1), images put there by skopeo.
@Suite struct RegistryPullTests {
    @Test func pullThenRunAnEnvironmentOnThePulledImage() throws {
        guard TestRegistry.available else {
            Issue.record("docker-registry is not installed (scripts/setup installs it)")
            return
        }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        let pushed = Harness.exec(["/usr/bin/skopeo", "copy", "--dest-tls-verify=false", "oci:images/busybox:latest",
                                   "docker://\(registry.host)/test/busybox:1"], cwd: harness.project, env: [:])
        #expect(pushed.status == 0, "\(pushed.stderr)")

        let pull = harness.strata(["pull", "\(registry.host)/test/busybox:1"])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(pull.stdout.hasPrefix("\(registry.host)/test/busybox:1 sha256:"), "\(pull.stdout)")
        #expect(harness.strata(["images"]).stdout.contains("\(registry.host)/test/busybox:1"))

        try harness.manifest("pulled", #"{"from": {"image": "\#(registry.host)/test/busybox:1"}, "steps": [{"run": "echo on the pulled image > /note"}]}"#)
        let run = harness.strata(["run", "pulled", "--", "cat", "/note"])
        #expect(run.stdout == "on the pulled image\n", "\(run.stdout) \(run.stderr)")

        let again = harness.strata(["pull", "\(registry.host)/test/busybox:1"])
        #expect(again.status == 0 && again.stdout == pull.stdout, "a second pull is the same image: \(again.stderr)")
    }

    @Test func anUnknownTagOrADownRegistryIsOneSentence() throws {
        guard TestRegistry.available else {
            Issue.record("docker-registry is not installed (scripts/setup installs it)")
            return
        }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        let missing = harness.strata(["pull", "\(registry.host)/test/none:1"])
        #expect(missing.status == 1 && missing.stderr.contains("has no manifest test/none:1 (HTTP 404"), "\(missing.stderr)")
        registry.stop()
        let down = harness.strata(["pull", "\(registry.host)/test/none:1"])
        #expect(down.status == 1 && down.stderr.contains("cannot reach the registry http://\(registry.host)"), "\(down.stderr)")
        #expect(harness.strata(["images", "-q"]).stdout.isEmpty, "nothing was tagged")
        let bad = harness.strata(["pull", "Upper/Case"])
        #expect(bad.status == 2 && bad.stderr.contains("repository names are lowercase"), "\(bad.stderr)")
    }

    @Test func aPrivateRegistryTakesTheCredentialsDockerWrote() throws {
        guard TestRegistry.available else {
            Issue.record("docker-registry is not installed (scripts/setup installs it)")
            return
        }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry", user: ("alice", "s3cret"))
        defer { registry.stop() }
        let pushed = Harness.exec(["/usr/bin/skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
                                   "oci:images/busybox:latest", "docker://\(registry.host)/private/busybox:1"], cwd: harness.project, env: [:])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let home = harness.project + "/home"
        let refused = harness.strata(["pull", "\(registry.host)/private/busybox:1"], env: ["HOME": home])
        #expect(refused.status == 1 && refused.stderr.contains("no credentials were found"), "\(refused.stderr)")
        // base64("alice:s3cret"), as docker login writes it.
        try harness.write("home/.docker/config.json", #"{"auths": {"\#(registry.host)": {"auth": "YWxpY2U6czNjcmV0"}}}"#)
        let pulled = harness.strata(["pull", "\(registry.host)/private/busybox:1"], env: ["HOME": home])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        try harness.write("home/.docker/config.json", #"{"auths": {"\#(registry.host)": {"username": "alice", "password": "wrong"}}}"#)
        let wrong = harness.strata(["pull", "\(registry.host)/private/busybox:2"], env: ["HOME": home])
        #expect(wrong.status == 1 && wrong.stderr.contains("were refused"), "\(wrong.stderr)")
    }
}

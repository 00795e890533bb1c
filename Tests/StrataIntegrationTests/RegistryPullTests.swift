import Foundation
import Testing

/// `strata pull` against a real registry (docker-registry on 127.0.0.1), images put there by skopeo.
@Suite struct RegistryPullTests {
    @Test func pullThenRunAnEnvironmentOnThePulledImage() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        let pushed = registry.push(harness, to: "test/busybox:1")
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
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        let missing = harness.strata(["pull", "\(registry.host)/test/none:1"])
        #expect(missing.status == 1 && missing.stderr.contains("has no image test/none:1 (HTTP 404"), "\(missing.stderr)")
        registry.stop()
        let down = harness.strata(["pull", "\(registry.host)/test/none:1"])
        #expect(down.status == 1 && down.stderr.contains("cannot reach the registry http://\(registry.host)"), "\(down.stderr)")
        #expect(harness.strata(["images", "-q"]).stdout.isEmpty, "nothing was tagged")
        let bad = harness.strata(["pull", "Upper/Case"])
        #expect(bad.status == 2 && bad.stderr.contains("repository names are lowercase"), "\(bad.stderr)")
    }

    @Test func aPrivateRegistryTakesTheCredentialsDockerWrote() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry", access: .basic(user: "alice", password: "s3cret"))
        defer { registry.stop() }
        let pushed = registry.push(harness, to: "private/busybox:1", credentials: "alice:s3cret")
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

    @Test func bearerTokensAnonymousAndForCredentials() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let open = try TestRegistry(in: harness.project + "/open", access: .tokens(user: nil))
        defer { open.stop() }
        // skopeo gets an anonymous token too: this token server gives push rights to anyone.
        let pushed = open.push(harness, to: "hub/busybox:1")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let anonymous = harness.strata(["pull", "\(open.host)/hub/busybox:1"], env: ["HOME": harness.project + "/home"])
        #expect(anonymous.status == 0, "an anonymous token, as Docker Hub gives: \(anonymous.stderr)")

        let closed = try TestRegistry(in: harness.project + "/closed", access: .tokens(user: (name: "bob", password: "pw")))
        defer { closed.stop() }
        let pushedClosed = closed.push(harness, to: "team/busybox:1", credentials: "bob:pw")
        #expect(pushedClosed.status == 0, "\(pushedClosed.stderr)")
        let refused = harness.strata(["pull", "\(closed.host)/team/busybox:1"], env: ["HOME": harness.project + "/home"])
        #expect(refused.status == 1 && refused.stderr.contains("the token server") && refused.stderr.contains("no credentials were found"),
                "\(refused.stderr)")
        try harness.write("auth.json", #"{"auths": {"\#(closed.host)": {"auth": "Ym9iOnB3"}}}"#)
        let pulled = harness.strata(["pull", "\(closed.host)/team/busybox:1"], env: ["REGISTRY_AUTH_FILE": harness.project + "/auth.json"])
        #expect(pulled.status == 0, "a token for the credentials in REGISTRY_AUTH_FILE: \(pulled.stderr)")
    }
}

import Foundation
import Testing

/// Credentials, TLS and mirrors: `strata login`/`logout`, credential helpers, a registry
/// with a throwaway CA, and Docker Hub names served by a mirror.
@Suite struct RegistryLoginTests {
    /// A registry that takes only alice:s3cret, holding busybox as `private/busybox:1`.
    static func privateRegistry(_ harness: Harness) throws -> TestRegistry {
        let registry = try TestRegistry(in: harness.project + "/registry", access: .basic(user: "alice", password: "s3cret"))
        #expect(registry.push(harness, to: "private/busybox:1", credentials: "alice:s3cret").status == 0)
        return registry
    }

    @Test func loginAndLogoutRoundTripDockersConfigFile() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try Self.privateRegistry(harness)
        defer { registry.stop() }
        let home = ["HOME": harness.project + "/home"]
        try harness.write("home/.docker/config.json", #"{"auths": {"other.example": {"auth": "eDp5"}}, "psFormat": "table"}"#)

        let wrong = harness.strata(["login", "--username", "alice", "--password-stdin", registry.host], env: home, stdin: "nope\n")
        #expect(wrong.status == 1 && wrong.stderr.contains("refused"), "\(wrong.stderr)")
        #expect(try !harness.read("home/.docker/config.json").contains(registry.host), "a refused login writes nothing")

        let login = harness.strata(["login", "-u", "alice", "--password-stdin", registry.host], env: home, stdin: "s3cret\n")
        #expect(login.status == 0 && login.stdout == "Login Succeeded\n", "\(login.stdout) \(login.stderr)")
        let config = try harness.read("home/.docker/config.json")
        #expect(config.contains(#""\#(registry.host)""#) && config.contains("YWxpY2U6czNjcmV0") && config.contains("other.example")
                && config.contains("psFormat"), "the login is added, the rest kept: \(config)")
        let mode = try FileManager.default.attributesOfItem(atPath: harness.project + "/home/.docker/config.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(harness.strata(["pull", "\(registry.host)/private/busybox:1"], env: home).status == 0)

        let logout = harness.strata(["logout", registry.host], env: home)
        #expect(logout.status == 0 && logout.stdout.contains("Removing login credentials for \(registry.host)"), "\(logout.stderr)")
        let after = try harness.read("home/.docker/config.json")
        #expect(!after.contains(registry.host) && after.contains("other.example"), "\(after)")
        let refused = harness.strata(["pull", "\(registry.host)/private/busybox:1"], env: home)
        #expect(refused.status == 1 && refused.stderr.contains("no credentials were found"), "\(refused.stderr)")
        let twice = harness.strata(["logout", registry.host], env: home)
        #expect(twice.status == 0 && twice.stderr.contains("not logged in"), "\(twice.stderr)")
    }

    @Test func aCredentialHelperNamedByCredHelpersIsRun() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try Self.privateRegistry(harness)
        defer { registry.stop() }
        // A helper as docker-credential-pass is one: get/store/erase, the server or a JSON document on stdin.
        let log = harness.project + "/helper.log"
        try harness.write("bin/docker-credential-test", """
        #!/bin/sh
        input=$(cat)
        echo "$1 $input" >> \(log)
        case "$1" in
          get) [ "$input" = "\(registry.host)" ] && echo '{"ServerURL": "\(registry.host)", "Username": "alice", "Secret": "s3cret"}' && exit 0
               echo "credentials not found in native keychain"; exit 1 ;;
          store|erase) exit 0 ;;
        esac
        exit 1

        """)
        chmod(harness.project + "/bin/docker-credential-test", 0o755)
        try harness.write("home/.docker/config.json", #"{"credHelpers": {"\#(registry.host)": "test"}}"#)
        let env = ["HOME": harness.project + "/home", "PATH": harness.project + "/bin:/usr/bin:/bin"]
        let pull = harness.strata(["pull", "\(registry.host)/private/busybox:1"], env: env)
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try harness.read("helper.log").contains("get \(registry.host)"))

        let login = harness.strata(["login", "-u", "alice", "--password-stdin", registry.host], env: env, stdin: "s3cret")
        #expect(login.status == 0 && login.stderr.contains("docker-credential-test"), "the helper keeps it: \(login.stderr)")
        let stored = try harness.read("helper.log")
        #expect(stored.contains("store {") && stored.contains(#""Secret":"s3cret""#), "\(stored)")
        #expect(try !harness.read("home/.docker/config.json").contains("s3cret"), "no secret in the file when a helper keeps it")
        let logout = harness.strata(["logout", registry.host], env: env)
        let erased = try harness.read("helper.log")
        #expect(logout.status == 0 && erased.contains("erase \(registry.host)"), "\(logout.stderr)")

        try harness.write("home/.docker/config.json", #"{"credHelpers": {"\#(registry.host)": "absent"}}"#)
        let missing = harness.strata(["pull", "\(registry.host)/private/busybox:1"], env: env)
        #expect(missing.status == 1 && missing.stderr.contains("docker-credential-absent: is not in PATH"), "\(missing.stderr)")
    }

    @Test func tlsIsVerifiedAgainstTheCertsDirectory() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry", access: .tls)
        defer { registry.stop() }
        RegistryPushTests.committed(harness)
        let certs = registry.directory + "/certs"
        let push = harness.strata(["push", "--tls-verify=true", "--cert-dir", certs, "app:1", "\(registry.host)/tls/app:1"])
        #expect(push.status == 0, "verified against the throwaway CA: \(push.stderr)")
        let untrusted = harness.strata(["pull", "--tls-verify=true", "\(registry.host)/tls/app:1"], env: ["STRATA_ROOT": harness.project + "/s1"])
        #expect(untrusted.status == 1 && untrusted.stderr.contains("TLS"), "a CA the system does not know is refused: \(untrusted.stderr)")
        let trusted = harness.strata(["pull", "--cert-dir", certs, "\(registry.host)/tls/app:1"], env: ["STRATA_ROOT": harness.project + "/s2"])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        // This machine is an insecure registry, as dockerd has 127.0.0.0/8: HTTPS unverified.
        let loopback = harness.strata(["pull", "\(registry.host)/tls/app:1"], env: ["STRATA_ROOT": harness.project + "/s3"])
        #expect(loopback.status == 0, "\(loopback.stderr)")
    }

    @Test func dockerHubNamesTryTheMirrorFirst() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        #expect(registry.push(harness, to: "library/busybox:1").status == 0)
        let mirror = ["STRATA_REGISTRY_MIRRORS": "http://\(registry.host)"]
        let pull = harness.strata(["pull", "busybox:1"], env: mirror)
        #expect(pull.status == 0 && pull.stdout.hasPrefix("busybox:1 sha256:"), "\(pull.stdout) \(pull.stderr)")

        // A Docker Hub base with no such image in the store: pinned from Hub (through the mirror).
        try harness.manifest("hub", #"{"from": {"image": "busybox:1"}, "steps": [{"run": "echo on hub > /hub"}]}"#)
        let fresh = mirror.merging(["STRATA_ROOT": harness.project + "/fresh"]) { $1 }
        let run = harness.strata(["run", "hub", "--", "cat", "/hub"], env: fresh)
        #expect(run.status == 0 && run.stdout == "on hub\n", "\(run.stdout) \(run.stderr)")
        #expect(try harness.read("lockfiles/hub.lock.json").contains(#""repository": "docker.io/library/busybox""#))
        try harness.write("config/strata/registries.json", #"{"registry-mirrors": ["http://\#(registry.host)"]}"#)
        let configured = harness.strata(["pull", "busybox:1"], env: ["XDG_CONFIG_HOME": harness.project + "/config",
                                                                    "STRATA_ROOT": harness.project + "/other"])
        #expect(configured.status == 0, "registries.json names the mirror too: \(configured.stderr)")
    }
}

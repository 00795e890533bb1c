import Testing
@testable import StrataModel

@Suite struct RegistryReferenceTests {
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    /// What `docker pull` makes of each (distribution/reference's ParseNormalizedNamed).
    @Test(arguments: [
        ("debian", "docker.io/library/debian:latest", "debian:latest"),
        ("debian:bookworm", "docker.io/library/debian:bookworm", "debian:bookworm"),
        ("library/debian:12", "docker.io/library/debian:12", "debian:12"),
        ("team/tools", "docker.io/team/tools:latest", "team/tools:latest"),
        ("docker.io/debian", "docker.io/library/debian:latest", "debian:latest"),
        ("index.docker.io/team/tools:1", "docker.io/team/tools:1", "team/tools:1"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/a/b/c:dev", "localhost:5000/a/b/c:dev", "localhost:5000/a/b/c:dev"),
        ("127.0.0.1:5000/app@" + digest, "127.0.0.1:5000/app@" + digest, "127.0.0.1:5000/app@" + digest),
        ("ghcr.io/org/app:v1@" + digest, "ghcr.io/org/app:v1@" + digest, "ghcr.io/org/app:v1@" + digest),
        ("Registry.Example.COM:443/app", "registry.example.com:443/app:latest", "registry.example.com:443/app:latest"),
    ])
    func normalizesAsDocker(_ text: String, _ full: String, _ familiar: String) throws {
        let reference = try RegistryReference(parsing: text)
        #expect(reference.description == full)
        #expect(reference.familiar == familiar)
        #expect(try RegistryReference(parsing: reference.description) == reference)
    }

    @Test func hostsKeysAndWhatIsAskedFor() throws {
        let hub = try RegistryReference(parsing: "debian:bookworm")
        #expect(hub.apiHost == "registry-1.docker.io" && hub.credentialKey == "index.docker.io" && hub.manifestReference == "bookworm")
        let pinned = try RegistryReference(parsing: "localhost:5000/app:v1@" + Self.digest)
        #expect(pinned.manifestReference == Self.digest && pinned.tag == "v1" && pinned.isLoopback)
        #expect(try RegistryReference(parsing: "127.0.0.1:5000/x").isLoopback)
        #expect(try !RegistryReference(parsing: "ghcr.io/x").isLoopback)
        #expect(try RegistryReference(parsing: "app@" + Self.digest).tag == nil)
    }

    @Test(arguments: [
        ("", "it is empty"),
        ("Debian", "repository names are lowercase"),
        ("team//tools", "a repository is lowercase"),
        ("app:", "the tag must be"),
        ("app:-x", "the tag must be"),
        ("app@sha256:12", "is not a sha256 digest"),
        ("bad_host:99999/app", "is not a registry host"),
        ("a/", "a repository is lowercase"),
    ])
    func refusals(_ text: String, _ reason: String) {
        #expect(throws: RegistryReference.Invalid.self) { try RegistryReference(parsing: text) }
        do { _ = try RegistryReference(parsing: text) } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }
}

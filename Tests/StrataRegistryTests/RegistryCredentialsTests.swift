import Glibc
import StrataModel
import StrataOS
import Testing
@testable import StrataRegistry

@Suite struct RegistryCredentialsTests {
    func home(_ files: [String: String]) throws -> String { try temporaryHome(files) }

    func reference(_ text: String) throws -> RegistryReference { try RegistryReference(parsing: text) }

    @Test func theFilesInDockersAndPodmansOrder() {
        let plain = RegistryCredentials(variables: ["HOME": "/h"])
        #expect(plain.files == ["/h/.config/containers/auth.json", "/h/.docker/config.json"])
        let all = RegistryCredentials(variables: ["HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1", "XDG_CONFIG_HOME": "/c", "DOCKER_CONFIG": "/d"])
        #expect(all.files == ["/run/user/1/containers/auth.json", "/c/containers/auth.json", "/d/config.json"])
        #expect(RegistryCredentials(variables: ["HOME": "/h", "REGISTRY_AUTH_FILE": "/a.json"]).files == ["/a.json"])
        #expect(RegistryCredentials(variables: [:]).files.isEmpty, "without HOME, no home is guessed")
        #expect(RegistryCredentials(variables: ["DOCKER_CONFIG": "/d"]).files == ["/d/config.json"])
    }

    @Test func authsHelpersAndTheMostSpecificKey() throws {
        // base64("alice:s3cret:x") and base64("bob:pw")
        let dir = try home([
            ".docker/config.json": #"""
            {"auths": {"https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcmV0Ong="},
                       "localhost:5000": {"auth": "Ym9iOnB3"},
                       "localhost:5000/team/app": {"username": "carol", "password": "pw2"},
                       "ghcr.io": {}, "quay.io": {"identitytoken": "tok"}},
             "credHelpers": {"registry.example.com": "secretservice"},
             "credsStore": "pass"}
            """#,
        ])
        defer { try? FileSystem.removeTree(dir) }
        let credentials = RegistryCredentials(variables: ["HOME": dir])
        #expect(try credentials.credential(for: reference("debian:bookworm")) == .basic(username: "alice", password: "s3cret:x"))
        #expect(try credentials.credential(for: reference("localhost:5000/other")) == .basic(username: "bob", password: "pw"))
        #expect(try credentials.credential(for: reference("localhost:5000/team/app:1")) == .basic(username: "carol", password: "pw2"))
        #expect(try credentials.credential(for: reference("registry.example.com/x")) == .helper(name: "secretservice", server: "registry.example.com"))
        #expect(try credentials.credential(for: reference("ghcr.io/x")) == .helper(name: "pass", server: "ghcr.io"), "an empty entry falls to credsStore")
        #expect(try credentials.credential(for: reference("quay.io/x")) == .identityToken(username: "", token: "tok"))
        #expect(try credentials.credential(for: reference("unknown.example/x")) == .helper(name: "pass", server: "unknown.example"))
    }

    @Test func podmansFileComesFirstAndBrokenFilesAreSaid() throws {
        let dir = try home([
            ".config/containers/auth.json": #"{"auths": {"docker.io": {"auth": "Ym9iOnB3"}}}"#,
            ".docker/config.json": #"{"auths": {"https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcmV0Ong="}}}"#,
        ])
        defer { try? FileSystem.removeTree(dir) }
        #expect(try RegistryCredentials(variables: ["HOME": dir]).credential(for: reference("debian")) == .basic(username: "bob", password: "pw"))
        #expect(try RegistryCredentials(variables: ["HOME": dir]).credential(for: reference("ghcr.io/a")) == .anonymous)

        let broken = try home([".docker/config.json": #"{"auths": {"ghcr.io": {"auth": "!!!"}}}"#, ".config/containers/auth.json": "{"])
        defer { try? FileSystem.removeTree(broken) }
        #expect {
            _ = try RegistryCredentials(variables: ["HOME": broken]).credential(for: reference("ghcr.io/a"))
        } throws: { error in "\(error)".contains("auth.json: is not valid JSON") }
        #expect {
            _ = try RegistryCredentials(variables: ["HOME": broken, "XDG_CONFIG_HOME": broken + "/none"]).credential(for: reference("ghcr.io/a"))
        } throws: { error in "\(error)".contains("is not base64 of USER:PASSWORD") }
    }
}

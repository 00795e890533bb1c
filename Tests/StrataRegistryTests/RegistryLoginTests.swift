import Glibc
import StrataJSON
import StrataModel
import StrataOS
import Testing
@testable import StrataRegistry

@Suite struct RegistryLoginFileTests {
    func home(_ files: [String: String]) throws -> String { try temporaryHome(files) }

    func document(_ path: String) throws -> JSONValue { try JSON.parse(try HostFile.read(path)) }

    @Test func loginWritesDockersFileAndKeepsTheRest() throws {
        let dir = try home([".docker/config.json": #"{"auths": {"other.example": {"auth": "eDp5"}}, "psFormat": "table"}"#])
        let credentials = RegistryCredentials(variables: ["HOME": dir])
        let reference = try RegistryReference(parsing: "localhost:5000/app")
        #expect(try credentials.save(username: "alice", password: "s3cret", for: reference) == dir + "/.docker/config.json")
        let written = try document(dir + "/.docker/config.json")
        #expect(written["auths"]?["localhost:5000"]?["auth"]?.stringValue == "YWxpY2U6czNjcmV0")
        #expect(written["auths"]?["other.example"] != nil && written["psFormat"]?.stringValue == "table")
        #expect(try credentials.credential(for: reference) == .basic(username: "alice", password: "s3cret"))
        var info = stat()
        #expect(stat(dir + "/.docker/config.json", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try credentials.remove(for: reference) == [dir + "/.docker/config.json"])
        #expect(try credentials.credential(for: reference) == .anonymous)
        #expect(try credentials.remove(for: reference).isEmpty)
    }

    @Test func theFileThatAlreadyKnowsTheRegistryIsTheOneWritten() throws {
        let dir = try home([
            ".config/containers/auth.json": #"{"auths": {"https://registry.lan:5000/": {"auth": "b2xkOm9sZA=="}}}"#,
            ".docker/config.json": "{}",
        ])
        let credentials = RegistryCredentials(variables: ["HOME": dir])
        let reference = try RegistryReference(parsing: "registry.lan:5000/app")
        #expect(try credentials.save(username: "new", password: "pw", for: reference) == dir + "/.config/containers/auth.json")
        let written = try document(dir + "/.config/containers/auth.json")
        #expect(written["auths"]?["https://registry.lan:5000/"] == nil, "the old key is replaced, not kept beside")
        #expect(try credentials.credential(for: reference) == .basic(username: "new", password: "pw"))
        let hub = try RegistryReference(parsing: "debian")
        _ = try credentials.save(username: "u", password: "p", for: hub)
        #expect(try document(dir + "/.docker/config.json")["auths"]?["https://index.docker.io/v1/"] != nil, "Docker Hub under docker's key")
        let only = RegistryCredentials(variables: ["HOME": dir, "REGISTRY_AUTH_FILE": dir + "/auth.json"])
        #expect(try only.save(username: "u", password: "p", for: reference) == dir + "/auth.json")
    }

    @Test func endpointsTravelAsJSON() throws {
        let endpoint = RegistryEndpoint(host: "h:1", insecure: true, verifiesTLS: false, certificateAuthorities: ["/a.crt"],
                                        clientCertificate: "/c", clientKey: "/k", username: "u", password: "p", identityToken: "t")
        #expect(RegistryEndpoint(json: endpoint.json) == endpoint)
        #expect(RegistryEndpoint(json: RegistryEndpoint(host: "h").json) == RegistryEndpoint(host: "h"))
    }
}

import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataRegistry
import Testing

@Suite("How a request reaches registries")
struct RegistryAccessTests {
    func directory(_ files: [String: String]) throws -> String {
        var template = Array("/tmp/strata-access-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", path: "/tmp") }
        let root = String(cString: made)
        for (path, text) in files {
            try FileSystem.makeDirectories(FileSystem.parent(of: root + "/" + path), mode: 0o700)
            try FileSystem.createFile(root + "/" + path, contents: Array(text.utf8), mode: 0o600)
        }
        return root
    }

    @Test("Docker Hub names try the mirrors first, from the variable and registries.json; other hosts never do")
    func mirrors() throws {
        let config = try directory(["strata/registries.json": #"{"registry-mirrors": ["https://mirror.example/"]}"#])
        let access = RegistryAccess(context: RequestContext(variables: [
            "STRATA_REGISTRY_MIRRORS": "http://10.0.0.1:5000, 127.0.0.1:5001", "XDG_CONFIG_HOME": config,
        ]))
        let hub = try access.pullSources(for: RegistryReference(parsing: "debian:bookworm"))
        #expect(hub.map(\.host) == ["10.0.0.1:5000", "127.0.0.1:5001", "mirror.example", "registry-1.docker.io"])
        #expect(hub.map(\.insecure) == [true, true, false, false], "http:// and this machine are insecure")
        #expect(hub.map(\.isMirror) == [true, true, true, false])
        let other = try access.pullSources(for: RegistryReference(parsing: "ghcr.io/team/app:1"))
        #expect(other.map(\.host) == ["ghcr.io"])
        #expect(try access.pushSource(for: RegistryReference(parsing: "debian:1")).host == "registry-1.docker.io", "a push never goes to a mirror")
    }

    @Test("plain HTTP only for this machine and the insecure registries; --tls-verify decides when given")
    func insecureHosts() throws {
        let context = RequestContext(variables: ["STRATA_INSECURE_REGISTRIES": "registry.lan:5000 http://other.lan"])
        func endpoint(_ text: String, verify: Bool? = nil) throws -> RegistryEndpoint {
            let access = RegistryAccess(context: context, tlsVerify: verify, certDirectory: "/nonexistent-strata-certs")
            let reference = try RegistryReference(parsing: text)
            return try access.endpoint(try access.pushSource(for: reference), for: reference)
        }
        #expect { try endpoint("ghcr.io/a") } throws: { "\($0)".contains("nonexistent-strata-certs") }
        let plain = RegistryAccess(context: context)
        for (text, insecure) in [("localhost:5000/a", true), ("127.0.0.1:5000/a", true), ("registry.lan:5000/a", true),
                                 ("other.lan/a", true), ("registry.lan/a", false), ("ghcr.io/a", false)] {
            let reference = try RegistryReference(parsing: text)
            let made = try plain.endpoint(try plain.pushSource(for: reference), for: reference)
            #expect(made.insecure == insecure && made.verifiesTLS == !insecure, "\(text)")
        }
        let reference = try RegistryReference(parsing: "ghcr.io/a")
        let off = RegistryAccess(context: context, tlsVerify: false)
        let offEndpoint = try off.endpoint(try off.pushSource(for: reference), for: reference)
        #expect(offEndpoint.insecure && !offEndpoint.verifiesTLS)
        let loop = try RegistryReference(parsing: "localhost:5000/a")
        let on = RegistryAccess(context: context, tlsVerify: true)
        let onEndpoint = try on.endpoint(try on.pushSource(for: loop), for: loop)
        #expect(!onEndpoint.insecure && onEndpoint.verifiesTLS, "--tls-verify=true insists on verified HTTPS, even here")
    }

    @Test("a certs directory gives the CAs and the client pair; half a pair is refused")
    func certificates() throws {
        let certs = try directory(["ca.crt": "x", "more.crt": "y", "client.cert": "c", "client.key": "k"])
        let reference = try RegistryReference(parsing: "registry.lan/a")
        let access = RegistryAccess(context: RequestContext(), certDirectory: certs)
        let endpoint = try access.endpoint(try access.pushSource(for: reference), for: reference)
        #expect(endpoint.certificateAuthorities == [certs + "/ca.crt", certs + "/more.crt"])
        #expect(endpoint.clientCertificate == certs + "/client.cert" && endpoint.clientKey == certs + "/client.key")
        let half = try directory(["client.cert": "c"])
        let broken = RegistryAccess(context: RequestContext(), certDirectory: half)
        #expect { try broken.endpoint(try broken.pushSource(for: reference), for: reference) } throws: { "\($0)".contains("without its key") }
        let bad = try directory(["strata/registries.json": #"{"registry-mirrors": "http://x"}"#])
        let badAccess = RegistryAccess(context: RequestContext(variables: ["XDG_CONFIG_HOME": bad]))
        #expect { try badAccess.pullSources(for: try RegistryReference(parsing: "debian")) } throws: { "\($0)".contains("not an array of strings") }
    }
}

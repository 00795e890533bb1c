import StrataEnvironment
import StrataFetchClient
import StrataModel
import StrataRegistry

/// `strata login` and `strata logout`: credentials checked against the registry, then kept
/// where Docker and Podman keep them (see `RegistryCredentials.save`).
public struct RegistryLogin: Sendable {
    public let context: RequestContext
    public init(context: RequestContext) { self.context = context }

    /// The registry a login names: `docker.io` (and Docker's other names for Hub) is Docker Hub.
    public static func registry(_ text: String?) throws(StrataError) -> RegistryReference {
        var host = Substring(text ?? RegistryReference.dockerHub)
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) { host = host.dropFirst(scheme.count) }
        while host.hasSuffix("/") { host = host.dropLast() }
        if host.hasSuffix("/v1") || host.hasSuffix("/v2") { host = host.dropLast(3) }
        if ["index.docker.io", "registry-1.docker.io", "docker.io"].contains(host) { host = Substring(RegistryReference.dockerHub) }
        guard !host.isEmpty, !host.contains("/"), host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:[]".contains($0) }) else {
            throw .usage("\"\(text ?? "")\" is not a registry host; give HOST[:PORT], like registry.example.com or localhost:5000")
        }
        return RegistryReference(host: String(host).lowercased(), repository: "library/login")
    }

    /// Checks `username`/`password` at the registry (its `/v2/`, through its token server if
    /// it has one), then saves them; returns where they were saved.
    public func login(_ registry: RegistryReference, username: String, password: String, access: RegistryAccess? = nil) throws(StrataError) -> String {
        let access = access ?? RegistryAccess(context: context)
        var endpoint = try access.endpoint(try access.pushSource(for: registry), for: registry)
        (endpoint.username, endpoint.password, endpoint.identityToken) = (username, password, nil)
        let client = FetchClient(mirrors: [], tool: context.fetchTool ?? FetchClient.toolBesideThisExecutable())
        do { try client.registry(.check(endpoint), progress: false) } catch { throw .fetch(error) }
        do { return try RegistryCredentials(variables: context.variables).save(username: username, password: password, for: registry) } catch {
            throw .input(path: error.path, reason: error.reason)
        }
    }

    /// Forgets the registry's credentials wherever they were kept; says where that was.
    public func logout(_ registry: RegistryReference) throws(StrataError) -> [String] {
        do { return try RegistryCredentials(variables: context.variables).remove(for: registry) } catch {
            throw .input(path: error.path, reason: error.reason)
        }
    }
}

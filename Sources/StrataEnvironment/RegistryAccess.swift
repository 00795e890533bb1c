import Glibc
import StrataJSON
import StrataModel
import StrataOS
import StrataRegistry

/// How one request reaches registries, from the caller's configuration: the credentials
/// Docker and Podman would use, which hosts may be spoken to over plain HTTP, which
/// certificate authorities a host's TLS is checked against, and the mirrors tried first for
/// Docker Hub — `registry-mirrors` and `insecure-registries` as dockerd's `daemon.json`
/// has them, from `STRATA_REGISTRY_MIRRORS` / `STRATA_INSECURE_REGISTRIES` (space or comma
/// separated) and `registries.json` in `$XDG_CONFIG_HOME/strata` (`~/.config/strata`) and
/// `/etc/strata`.
public struct RegistryAccess: Sendable {
    public var context: RequestContext
    /// `--tls-verify`: true insists on verified HTTPS; false verifies nothing and allows
    /// plain HTTP; nil does what the host's kind says (verified HTTPS, except for this
    /// machine and the insecure registries).
    public var tlsVerify: Bool?
    /// `--cert-dir`: a directory of `*.crt` CAs (and a `*.cert`/`*.key` client pair) used in
    /// place of `/etc/containers/certs.d/HOST` and `/etc/docker/certs.d/HOST`.
    public var certDirectory: String?

    public init(context: RequestContext, tlsVerify: Bool? = nil, certDirectory: String? = nil) {
        self.context = context; self.tlsVerify = tlsVerify; self.certDirectory = certDirectory
    }

    /// A place an image can be pulled from: a mirror, or the registry itself.
    public struct Source: Sendable, Equatable {
        /// `host[:port]` as spoken to.
        public var host: String
        public var insecure: Bool
        public var isMirror: Bool
    }

    /// Where a pull of `reference` is tried, in order: for Docker Hub, each mirror, then Hub.
    public func pullSources(for reference: RegistryReference) throws(StrataError) -> [Source] {
        var sources: [Source] = []
        if reference.host == RegistryReference.dockerHub {
            for mirror in try setting("STRATA_REGISTRY_MIRRORS", key: "registry-mirrors") {
                var text = Substring(mirror)
                let plain = text.hasPrefix("http://")
                for scheme in ["http://", "https://"] where text.hasPrefix(scheme) { text = text.dropFirst(scheme.count) }
                while text.hasSuffix("/") { text = text.dropLast() }
                guard !text.isEmpty else { continue }
                let listed = try isInsecure(String(text))
                sources.append(Source(host: String(text), insecure: plain || listed, isMirror: true))
            }
        }
        sources.append(Source(host: reference.apiHost, insecure: try isInsecure(reference.host), isMirror: false))
        return sources
    }

    /// The registry a push of `reference` goes to (never a mirror).
    public func pushSource(for reference: RegistryReference) throws(StrataError) -> Source {
        Source(host: reference.apiHost, insecure: try isInsecure(reference.host), isMirror: false)
    }

    /// This machine, or listed as insecure.
    func isInsecure(_ host: String) throws(StrataError) -> Bool {
        if RegistryReference(host: host, repository: "x").isLoopback { return true }
        return try setting("STRATA_INSECURE_REGISTRIES", key: "insecure-registries").contains { listed in
            var text = Substring(listed)
            for scheme in ["http://", "https://"] where text.hasPrefix(scheme) { text = text.dropFirst(scheme.count) }
            return text == host
        }
    }

    /// The endpoint for `source`, with the credentials found for it (a mirror's own, by its host).
    public func endpoint(_ source: Source, for reference: RegistryReference) throws(StrataError) -> RegistryEndpoint {
        var endpoint = RegistryEndpoint(host: source.host)
        endpoint.insecure = tlsVerify == true ? false : (source.insecure || tlsVerify == false)
        endpoint.verifiesTLS = tlsVerify ?? !source.insecure
        try trust(for: source.host, into: &endpoint)
        let keyed = source.isMirror ? RegistryReference(host: source.host, repository: reference.repository) : reference
        let credential: RegistryCredential
        do { credential = try RegistryCredentials(variables: context.variables).resolved(for: keyed) } catch {
            throw .input(path: error.path, reason: error.reason)
        }
        switch credential {
        case .anonymous, .helper: break
        case .basic(let username, let password): (endpoint.username, endpoint.password) = (username, password)
        case .identityToken(let username, let token): (endpoint.username, endpoint.identityToken) = (username, token)
        }
        return endpoint
    }

    /// The CA files and client certificate of the host's certs.d directory.
    func trust(for host: String, into endpoint: inout RegistryEndpoint) throws(StrataError) {
        let directories = certDirectory.map { [$0] } ?? ["/etc/containers/certs.d/" + host, "/etc/docker/certs.d/" + host]
        for directory in directories {
            let names: [String]
            do { names = try Directory.names(directory) } catch {
                if error.errno == ENOENT, certDirectory == nil { continue }
                throw .input(path: directory, reason: "cannot read the certificates directory: \(error.reason)")
            }
            for name in names.sorted() {
                let path = directory + "/" + name
                if name.hasSuffix(".crt") { endpoint.certificateAuthorities.append(path) }
                if name.hasSuffix(".cert") { endpoint.clientCertificate = path }
                if name.hasSuffix(".key") { endpoint.clientKey = path }
            }
            if endpoint.clientCertificate != nil && endpoint.clientKey == nil || endpoint.clientKey != nil && endpoint.clientCertificate == nil {
                throw .input(path: directory, reason: "has a client certificate without its key (or a key without its certificate): give both, NAME.cert and NAME.key")
            }
            return
        }
    }

    /// A list setting: the variable's words, then the config files' arrays.
    func setting(_ variable: String, key: String) throws(StrataError) -> [String] {
        var values = (context.variables[variable] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        for file in configFiles {
            let bytes: [UInt8]
            do {
                guard let read = try FileSystem.readFile(file, limit: 1 << 20) else { continue }
                bytes = read
            } catch { throw .input(path: file, reason: error.reason) }
            guard let document = try? JSON.parse(bytes), case .object(let fields) = document else {
                throw .input(path: file, reason: "is not a JSON object such as {\"registry-mirrors\": [\"https://mirror.example\"]}")
            }
            guard let entry = fields[key] else { continue }
            guard case .array(let items) = entry, items.allSatisfy({ $0.stringValue != nil }) else {
                throw .input(path: file, reason: "\"\(key)\" is not an array of strings")
            }
            values += items.compactMap(\.stringValue)
        }
        return values
    }

    var configFiles: [String] {
        var files: [String] = []
        if let config = context.variables["XDG_CONFIG_HOME"], !config.isEmpty {
            files.append(config + "/strata/registries.json")
        } else if let home = context.variables["HOME"], !home.isEmpty {
            files.append(home + "/.config/strata/registries.json")
        }
        files.append("/etc/strata/registries.json")
        return files
    }
}

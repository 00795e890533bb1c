import FoundationEssentials
import StrataJSON
import StrataModel
import StrataOS

/// Where a registry's credentials come from, found where Docker and Podman look, in their
/// order: `$REGISTRY_AUTH_FILE` (alone, when set), `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/…`), then `$DOCKER_CONFIG/config.json`
/// (`~/.docker/config.json`). The first file that knows the registry decides.
///
/// In a file: `credHelpers[HOST]` names a helper for that host; else the most specific
/// `auths` key (`host/namespace/repo` before `host`; `https://` and Docker's `/v1/` suffix
/// ignored, `docker.io` read as `index.docker.io`); an empty entry, or none, falls to
/// `credsStore`. Only the caller's variables are read, never this process's.
public enum RegistryCredential: Sendable, Equatable {
    case anonymous
    case basic(username: String, password: String)
    /// An OAuth refresh token (`identitytoken`), exchanged at the token server.
    case identityToken(username: String, token: String)
    /// `docker-credential-NAME get`, given `server` on stdin.
    case helper(name: String, server: String)
}

/// A credentials file that cannot be used, said with its path.
public struct CredentialFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

public struct RegistryCredentials: Sendable {
    /// The caller's environment variables (`HOME`, `XDG_*`, `DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`).
    public var variables: [String: String]

    public init(variables: [String: String]) { self.variables = variables }

    /// The files consulted, in order.
    public var files: [String] {
        if let file = variables["REGISTRY_AUTH_FILE"], !file.isEmpty { return [file] }
        // Without HOME only the directories named outright are looked in.
        let home = variables["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        func directory(_ name: String, else fallback: String) -> String? {
            if let value = variables[name], !value.isEmpty { return value }
            return home.map { $0 + fallback }
        }
        var files: [String] = []
        if let runtime = variables["XDG_RUNTIME_DIR"], !runtime.isEmpty { files.append(runtime + "/containers/auth.json") }
        if let config = directory("XDG_CONFIG_HOME", else: "/.config") { files.append(config + "/containers/auth.json") }
        if let docker = directory("DOCKER_CONFIG", else: "/.docker") { files.append(docker + "/config.json") }
        return files
    }

    /// The credential for `reference`'s registry (and repository, for namespaced keys).
    public func credential(for reference: RegistryReference) throws(CredentialFileError) -> RegistryCredential {
        for file in files {
            let bytes: [UInt8]
            do {
                guard let read = try FileSystem.readFile(file, limit: 4 << 20) else { continue }
                bytes = read
            } catch { throw CredentialFileError(path: file, reason: error.reason) }
            if let found = try Self.credential(in: bytes, file: file, for: reference) { return found }
        }
        return .anonymous
    }

    /// What one file says for `reference`; nil when it does not know the registry.
    static func credential(in bytes: [UInt8], file: String, for reference: RegistryReference) throws(CredentialFileError) -> RegistryCredential? {
        let document: JSONValue
        do { document = try JSON.parse(bytes) } catch {
            throw CredentialFileError(path: file, reason: "is not valid JSON (\(error)); fix or remove it")
        }
        guard case .object(let fields) = document else { throw CredentialFileError(path: file, reason: "is not a JSON object") }
        let host = reference.credentialKey
        if case .object(let helpers)? = fields["credHelpers"] {
            for (key, value) in helpers where normalizedKey(key) == host {
                if let name = value.stringValue, !name.isEmpty { return .helper(name: name, server: helperServer(host)) }
            }
        }
        var entry: [String: JSONValue]?
        if case .object(let auths)? = fields["auths"] {
            let wanted = host + "/" + reference.repository
            var best: (length: Int, fields: [String: JSONValue])?
            for (key, value) in auths {
                let normalized = normalizedKey(key)
                guard wanted == normalized || wanted.hasPrefix(normalized + "/"), case .object(let found) = value else { continue }
                if normalized.count > (best?.length ?? -1) { best = (normalized.count, found) }
            }
            entry = best?.fields
        }
        if let entry, let credential = try credential(from: entry, file: file) { return credential }
        if let store = fields["credsStore"]?.stringValue, !store.isEmpty { return .helper(name: store, server: helperServer(host)) }
        return entry == nil ? nil : .anonymous
    }

    /// An `auths` entry: `auth` (base64 of `user:password`), or `username`/`password`, or
    /// `identitytoken`; nil when it holds none (a marker for `credsStore`).
    static func credential(from entry: [String: JSONValue], file: String) throws(CredentialFileError) -> RegistryCredential? {
        var username = entry["username"]?.stringValue ?? ""
        var password = entry["password"]?.stringValue ?? ""
        if let auth = entry["auth"]?.stringValue, !auth.isEmpty {
            guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
                  let colon = text.firstIndex(of: ":") else {
                throw CredentialFileError(path: file, reason: "an \"auth\" entry is not base64 of USER:PASSWORD; run `strata login` again")
            }
            username = String(text[..<colon])
            password = String(text[text.index(after: colon)...])
        }
        if let token = entry["identitytoken"]?.stringValue, !token.isEmpty { return .identityToken(username: username, token: token) }
        if !username.isEmpty || !password.isEmpty { return .basic(username: username, password: password) }
        return nil
    }

    /// A key as the tools write it, as a host (and path): no scheme, no `/v1/`-style suffix.
    static func normalizedKey(_ key: String) -> String {
        var text = Substring(key)
        for scheme in ["https://", "http://"] where text.hasPrefix(scheme) { text = text.dropFirst(scheme.count) }
        while text.hasSuffix("/") { text = text.dropLast() }
        for suffix in ["/v1", "/v2"] where text.hasSuffix(suffix) { text = text.dropLast(suffix.count) }
        var normalized = String(text)
        for hub in ["docker.io", "registry-1.docker.io"] where normalized == hub || normalized.hasPrefix(hub + "/") {
            normalized = "index.docker.io" + normalized.dropFirst(hub.count)
        }
        return normalized
    }

    /// What a helper is asked for: Docker Hub by its legacy URL, as docker asks.
    static func helperServer(_ host: String) -> String { host == "index.docker.io" ? "https://index.docker.io/v1/" : host }
}

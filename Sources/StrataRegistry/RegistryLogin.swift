import FoundationEssentials
import StrataJSON
import StrataModel
import StrataOS

/// `strata login` and `strata logout`: the files written as `docker login` and `podman login`
/// write them, and the credential helpers they name run as docker runs them.
extension RegistryCredentials {
    /// The helper the caller's files would run (`credHelpers`, `credsStore`).
    public func helper(_ name: String) -> CredentialHelper {
        CredentialHelper(name: name, searchPath: variables["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
                         environment: variables.sorted { $0.key < $1.key }.map { $0.key + "=" + $0.value })
    }

    /// The credential for `reference`, a helper's answer included.
    public func resolved(for reference: RegistryReference) throws(CredentialFileError) -> RegistryCredential {
        let found = try credential(for: reference)
        guard case .helper(let name, let server) = found else { return found }
        return try helper(name).get(server: server) ?? .anonymous
    }

    /// The file `strata login` writes: the first one consulted that already knows the
    /// registry (so nothing older shadows the new login), else `$REGISTRY_AUTH_FILE`, else
    /// Docker's `config.json`, which Podman reads too.
    func loginFile(for key: String) throws(CredentialFileError) -> String {
        for file in files {
            guard let document = try Self.document(file) else { continue }
            if Self.entryKey(in: document, for: key) != nil { return file }
        }
        guard let file = files.last else {
            throw CredentialFileError(path: "~/.docker/config.json", reason: "cannot be found: HOME is not set; set HOME, DOCKER_CONFIG or REGISTRY_AUTH_FILE")
        }
        return file
    }

    /// Keeps `username` and `password` for `reference`'s registry; says where.
    public func save(username: String, password: String, for reference: RegistryReference) throws(CredentialFileError) -> String {
        let key = Self.helperServer(reference.credentialKey)
        let file = try loginFile(for: reference.credentialKey)
        var fields = try Self.document(file) ?? [:]
        var auths: [String: JSONValue] = [:]
        if case .object(let existing)? = fields["auths"] { auths = existing }
        if let old = Self.entryKey(in: fields, for: reference.credentialKey) { auths[old] = nil }
        var place = file
        if let name = Self.helperName(in: fields, for: reference.credentialKey) {
            try helper(name).store(server: key, username: username, secret: password)
            auths[key] = .object([:])
            place = helper(name).program
        } else {
            auths[key] = .object(["auth": .string(Data((username + ":" + password).utf8).base64EncodedString())])
        }
        fields["auths"] = .object(auths)
        try Self.write(fields, to: file)
        return place
    }

    /// Forgets `reference`'s registry in every file (and helper) that knows it; says where
    /// it was known, nothing when nowhere.
    public func remove(for reference: RegistryReference) throws(CredentialFileError) -> [String] {
        var removed: [String] = []
        for file in files {
            guard var fields = try Self.document(file) else { continue }
            let helperName = Self.helperName(in: fields, for: reference.credentialKey)
            let entry = Self.entryKey(in: fields, for: reference.credentialKey)
            if let helperName, try helper(helperName).erase(server: Self.helperServer(reference.credentialKey)) {
                removed.append(helper(helperName).program)
            }
            guard let entry, case .object(var auths)? = fields["auths"] else { continue }
            auths[entry] = nil
            fields["auths"] = .object(auths)
            try Self.write(fields, to: file)
            removed.append(file)
        }
        return removed
    }

    static func document(_ file: String) throws(CredentialFileError) -> [String: JSONValue]? {
        let bytes: [UInt8]
        do {
            guard let read = try FileSystem.readFile(file, limit: 4 << 20) else { return nil }
            bytes = read
        } catch { throw CredentialFileError(path: file, reason: error.reason) }
        guard case .object(let fields)? = try? JSON.parse(bytes) else {
            throw CredentialFileError(path: file, reason: "is not a JSON object; fix or remove it")
        }
        return fields
    }

    /// The `auths` key naming exactly this registry, as any tool wrote it.
    static func entryKey(in fields: [String: JSONValue], for host: String) -> String? {
        guard case .object(let auths)? = fields["auths"] else { return nil }
        return auths.keys.sorted().first { normalizedKey($0) == host }
    }

    static func helperName(in fields: [String: JSONValue], for host: String) -> String? {
        if case .object(let helpers)? = fields["credHelpers"] {
            for (key, value) in helpers where normalizedKey(key) == host {
                if let name = value.stringValue, !name.isEmpty { return name }
            }
        }
        if let store = fields["credsStore"]?.stringValue, !store.isEmpty { return store }
        return nil
    }

    /// Written whole and atomically, readable by its owner only (it holds secrets).
    static func write(_ fields: [String: JSONValue], to file: String) throws(CredentialFileError) {
        do {
            try FileSystem.makeDirectories(FileSystem.parent(of: file), mode: 0o700)
            try HostFile.writeAtomically(JSON.canonicalBytes(.object(fields)), to: file, mode: 0o600)
        } catch { throw CredentialFileError(path: file, reason: "cannot be written: \(error.reason)") }
    }
}

import StrataJSON

/// A registry as `strata-fetch` is to speak to it: the host, how far TLS is trusted, and the
/// credentials strata found for it. Made by strata (which reads the caller's configuration)
/// and sent on the tool's stdin, so credentials never appear in a command line.
public struct RegistryEndpoint: Sendable, Equatable {
    /// `host[:port]` as spoken to (`registry-1.docker.io` for Docker Hub).
    public var host: String
    /// Plain HTTP may be used when HTTPS fails (this machine, `STRATA_INSECURE_REGISTRIES`,
    /// `--tls-verify=false`), as dockerd does for its insecure registries.
    public var insecure: Bool
    /// Certificates are checked (against the system's bundle and `certificateAuthorities`).
    public var verifiesTLS: Bool
    /// Extra CA files (`*.crt` of `/etc/containers/certs.d/HOST/` and the like).
    public var certificateAuthorities: [String]
    /// A client certificate and key (`*.cert` and `*.key` there), for registries that ask for one.
    public var clientCertificate: String?
    public var clientKey: String?
    public var username: String?
    public var password: String?
    /// An OAuth refresh token (`identitytoken` of a config file), exchanged at the token server.
    public var identityToken: String?

    public init(host: String, insecure: Bool = false, verifiesTLS: Bool = true, certificateAuthorities: [String] = [],
                clientCertificate: String? = nil, clientKey: String? = nil,
                username: String? = nil, password: String? = nil, identityToken: String? = nil) {
        self.host = host; self.insecure = insecure; self.verifiesTLS = verifiesTLS
        self.certificateAuthorities = certificateAuthorities
        self.clientCertificate = clientCertificate; self.clientKey = clientKey
        self.username = username; self.password = password; self.identityToken = identityToken
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "host": .string(host), "insecure": .bool(insecure), "verifiesTLS": .bool(verifiesTLS),
            "certificateAuthorities": .array(certificateAuthorities.map(JSONValue.string)),
        ]
        for (key, value) in [("clientCertificate", clientCertificate), ("clientKey", clientKey), ("username", username),
                             ("password", password), ("identityToken", identityToken)] {
            if let value { fields[key] = .string(value) }
        }
        return .object(fields)
    }

    public init?(json value: JSONValue) {
        guard let host = value["host"]?.stringValue, let insecure = value["insecure"]?.boolValue,
              let verifies = value["verifiesTLS"]?.boolValue,
              let authorities = value["certificateAuthorities"]?.arrayValue?.compactMap(\.stringValue) else { return nil }
        self.init(host: host, insecure: insecure, verifiesTLS: verifies, certificateAuthorities: authorities,
                  clientCertificate: value["clientCertificate"]?.stringValue, clientKey: value["clientKey"]?.stringValue,
                  username: value["username"]?.stringValue, password: value["password"]?.stringValue,
                  identityToken: value["identityToken"]?.stringValue)
    }
}

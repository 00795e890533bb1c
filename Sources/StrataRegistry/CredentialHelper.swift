import StrataJSON
import StrataOS

/// A Docker credential helper (`docker-credential-NAME`, found in the caller's `PATH`), run
/// as docker runs it: the verb as its argument, the server (or a JSON document) on stdin,
/// JSON on stdout.
public struct CredentialHelper: Sendable {
    public var name: String
    /// The caller's `PATH`, where the helper is looked for.
    public var searchPath: String
    /// The caller's `HOME` and the like, which helpers read to find their own stores.
    public var environment: [String]

    public init(name: String, searchPath: String, environment: [String]) {
        self.name = name; self.searchPath = searchPath; self.environment = environment
    }

    public var program: String { "docker-credential-" + name }

    /// `get`: the username and secret for `server`; nil when the helper knows none
    /// (it says "credentials not found"). A username of `<token>` makes the secret an
    /// identity token, as docker reads it.
    public func get(server: String) throws(CredentialFileError) -> RegistryCredential? {
        let outcome = try run("get", input: Array(server.utf8))
        guard outcome.succeeded else {
            let said = Self.firstLine(outcome.standardOutput + outcome.standardError)
            if said.lowercased().contains("credentials not found") { return nil }
            throw CredentialFileError(path: program, reason: "failed for \(server) (\(outcome.ending)\(said.isEmpty ? "" : ": " + said))")
        }
        guard let document = try? JSON.parse(outcome.standardOutput), let secret = document["Secret"]?.stringValue else {
            throw CredentialFileError(path: program, reason: "answered `get` for \(server) with something other than {\"Username\", \"Secret\"}")
        }
        let username = document["Username"]?.stringValue ?? ""
        if username == "<token>" { return .identityToken(username: "", token: secret) }
        return .basic(username: username, password: secret)
    }

    /// `store`: keeps `username` and `secret` for `server`.
    public func store(server: String, username: String, secret: String) throws(CredentialFileError) {
        let document: JSONValue = .object(["ServerURL": .string(server), "Username": .string(username), "Secret": .string(secret)])
        let outcome = try run("store", input: JSON.compactBytes(document))
        guard outcome.succeeded else {
            throw CredentialFileError(path: program, reason: "could not store the credentials for \(server) (\(outcome.ending): \(Self.firstLine(outcome.standardOutput + outcome.standardError)))")
        }
    }

    /// `erase`: forgets `server`; true when it knew it.
    public func erase(server: String) throws(CredentialFileError) -> Bool {
        let outcome = try run("erase", input: Array(server.utf8))
        if outcome.succeeded { return true }
        let said = Self.firstLine(outcome.standardOutput + outcome.standardError)
        if said.lowercased().contains("not found") { return false }
        throw CredentialFileError(path: program, reason: "could not erase the credentials for \(server) (\(outcome.ending): \(said))")
    }

    func run(_ verb: String, input: [UInt8]) throws(CredentialFileError) -> Subprocess.Outcome {
        guard let executable = Subprocess.locate(program, searchPath: searchPath) else {
            throw CredentialFileError(path: program, reason: "is not in PATH, but the credentials file names the helper \"\(name)\"; install it or remove it from the file")
        }
        var process = Subprocess(executable: executable, arguments: [verb], environment: environment)
        process.standardInput = .bytes(input)
        process.standardError = .capture
        do { return try process.run() } catch {
            throw CredentialFileError(path: executable, reason: "cannot run it: \(error.reason)")
        }
    }

    static func firstLine(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(400), as: UTF8.self)
        return String(text.split(separator: "\n").first ?? "").trimmingSpaces
    }
}

extension String {
    var trimmingSpaces: String { String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
}

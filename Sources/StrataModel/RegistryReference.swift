/// An image in a registry, as Docker writes it: `[HOST[:PORT]/]REPO[:TAG][@sha256:…]`,
/// normalized as `docker pull` normalizes it — no host means Docker Hub (`docker.io`), and
/// a one-part repository there is an official image (`library/…`); no tag and no digest
/// means `latest`.
///
/// Guarantees: `host` is a valid host (lowercase, with an optional port), `repository` the
/// distribution spec's path grammar, `tag` its tag grammar; `description` parses back to
/// an equal value.
public struct RegistryReference: Sendable, Hashable, CustomStringConvertible {
    /// Where the registry is, as the reference names it (`docker.io`, `localhost:5000`).
    public var host: String
    /// `library/debian`, `team/tools`.
    public var repository: String
    /// The tag, when the reference names one (or implies `latest`).
    public var tag: String?
    /// The manifest digest, when the reference pins one; it wins over the tag.
    public var digest: Digest?

    public static let dockerHub = "docker.io"

    public init(host: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.host = host; self.repository = repository; self.tag = tag; self.digest = digest
    }

    /// Why text is not a registry reference, in words that end a sentence.
    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "\"\(text)\" is not an image reference: \(reason)" }
    }

    public init(parsing text: String) throws(Invalid) {
        var rest = Substring(text)
        guard !rest.isEmpty, rest.utf8.count <= 4096 else { throw Invalid(text: text, reason: "it is empty or too long") }
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            let written = String(rest[rest.index(after: at)...])
            do { digest = try Digest(parsing: written) } catch {
                throw Invalid(text: text, reason: "\"\(written)\" is not a sha256 digest (sha256: and 64 hex digits)")
            }
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            let written = rest[rest.index(after: colon)...]
            guard ImageReference.isValidTag(written) else {
                throw Invalid(text: text, reason: "the tag must be 1–128 of [A-Za-z0-9_.-], not starting with . or -")
            }
            tag = String(written)
            rest = rest[..<colon]
        }
        var parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        var host = Self.dockerHub
        if parts.count > 1, let first = parts.first, first.contains(".") || first.contains(":") || first == "localhost" {
            guard ImageReference.isValidHost(first) else {
                throw Invalid(text: text, reason: "\"\(first)\" is not a registry host (HOST or HOST:PORT)")
            }
            host = first.lowercased()
            parts.removeFirst()
        }
        if host == "index.docker.io" || host == "registry-1.docker.io" { host = Self.dockerHub }
        guard !parts.isEmpty, parts.allSatisfy(ImageReference.isValidComponent) else {
            let upper = parts.contains { $0.contains(where: \.isUppercase) }
            throw Invalid(text: text, reason: upper
                ? "repository names are lowercase"
                : "a repository is lowercase [a-z0-9] words joined by . _ __ or -, in /-separated parts (like team/tools)")
        }
        if host == Self.dockerHub && parts.count == 1 { parts.insert("library", at: 0) }
        let repository = parts.joined(separator: "/")
        guard repository.utf8.count <= 255 else { throw Invalid(text: text, reason: "the repository is longer than 255 characters") }
        self.init(host: host, repository: repository, tag: tag ?? (digest == nil ? ImageReference.defaultTag : nil), digest: digest)
    }

    /// The whole reference: `docker.io/library/debian:bookworm`, `localhost:5000/app@sha256:…`.
    public var description: String {
        host + "/" + repository + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// As Docker shows it: without `docker.io/` and `library/`.
    public var familiar: String {
        familiarName + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// The name alone, as Docker shows it: `debian`, `team/app`, `localhost:5000/app`.
    public var familiarName: String {
        guard host == Self.dockerHub else { return host + "/" + repository }
        return repository.hasPrefix("library/") && !repository.dropFirst(8).contains("/") ? String(repository.dropFirst(8)) : repository
    }

    /// The host the registry API is served from (Docker Hub's is not `docker.io`).
    public var apiHost: String { host == Self.dockerHub ? "registry-1.docker.io" : host }

    /// The key credentials are stored under in Docker's and Podman's files (`index.docker.io`
    /// for Docker Hub, as Docker normalizes it).
    public var credentialKey: String { host == Self.dockerHub ? "index.docker.io" : host }

    /// What the registry is asked for: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? ImageReference.defaultTag }

    /// True for hosts that are this machine, which may be spoken to over plain HTTP.
    public var isLoopback: Bool {
        let name = host.split(separator: ":", maxSplits: 1).first.map(String.init) ?? host
        return name == "localhost" || name.hasPrefix("127.") || name == "[::1]"
    }
}

import StrataJSON
import StrataModel

/// One file for `strata-fetch` to download: tried at each mirror in order, verified
/// while streaming (see StrataFetch's `Download`).
public struct FetchJob: Sendable, Equatable {
    public var path: String
    public var destination: String
    public var digest: Digest?
    public var size: Int64?
    public var limit: Int64

    public init(path: String, destination: String, digest: Digest? = nil, size: Int64? = nil, limit: Int64 = 256 << 20) {
        self.path = path; self.destination = destination; self.digest = digest; self.size = size; self.limit = limit
    }
}

/// An image for `strata-fetch` to pull from a registry into an OCI layout of its own
/// (`staging`: `index.json` naming what `reference` resolved to, and every blob of the
/// image for `platform`, each verified), which `strata` then reads and stores.
public struct RegistryPullJob: Sendable, Equatable {
    /// `https://host[:port]` (or `http://` for a loopback or insecure registry).
    public var base: String
    public var repository: String
    /// A tag, or a manifest digest.
    public var reference: String
    public var os: String
    public var architecture: String
    public var staging: String
    /// Basic credentials for the registry or its token server, as strata found them; they
    /// travel on the tool's stdin only.
    public var username: String?
    public var password: String?

    public init(base: String, repository: String, reference: String, os: String, architecture: String, staging: String,
                username: String? = nil, password: String? = nil) {
        self.base = base; self.repository = repository; self.reference = reference
        self.os = os; self.architecture = architecture; self.staging = staging
        self.username = username; self.password = password
    }

    var json: JSONValue {
        var fields: [String: JSONValue] = [
            "base": .string(base), "repository": .string(repository), "reference": .string(reference),
            "os": .string(os), "architecture": .string(architecture), "staging": .string(staging),
        ]
        if let username { fields["username"] = .string(username) }
        if let password { fields["password"] = .string(password) }
        return .object(fields)
    }

    init?(json value: JSONValue) {
        guard let base = value["base"]?.stringValue, let repository = value["repository"]?.stringValue,
              let reference = value["reference"]?.stringValue, let os = value["os"]?.stringValue,
              let architecture = value["architecture"]?.stringValue, let staging = value["staging"]?.stringValue else { return nil }
        self.init(base: base, repository: repository, reference: reference, os: os, architecture: architecture, staging: staging,
                  username: value["username"]?.stringValue, password: value["password"]?.stringValue)
    }
}

/// What `strata` asks `strata-fetch` on its stdin: all of `jobs`, or none; or one image
/// from a registry (`registry`).
public struct FetchRequest: Sendable, Equatable {
    public var mirrors: [String]
    public var jobs: [FetchJob]
    /// Draw a progress line on stderr when it is a terminal.
    public var progress: Bool
    public var registry: RegistryPullJob?

    public init(mirrors: [String], jobs: [FetchJob], progress: Bool, registry: RegistryPullJob? = nil) {
        self.mirrors = mirrors; self.jobs = jobs; self.progress = progress; self.registry = registry
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "mirrors": .array(mirrors.map(JSONValue.string)),
            "progress": .bool(progress),
            "jobs": .array(jobs.map { job in
                var fields: [String: JSONValue] = [
                    "path": .string(job.path), "destination": .string(job.destination), "limit": .int(job.limit),
                ]
                if let digest = job.digest { fields["digest"] = .string(digest.description) }
                if let size = job.size { fields["size"] = .int(size) }
                return .object(fields)
            }),
        ]
        if let registry { fields["registry"] = registry.json }
        return .object(fields)
    }

    /// nil when `value` is not a request this version writes.
    public init?(json value: JSONValue) {
        guard let mirrors = value["mirrors"]?.arrayValue?.compactMap(\.stringValue),
              let jobs = value["jobs"]?.arrayValue, let progress = value["progress"]?.boolValue else { return nil }
        var parsed: [FetchJob] = []
        for job in jobs {
            guard let path = job["path"]?.stringValue, let destination = job["destination"]?.stringValue,
                  let limit = job["limit"]?.intValue else { return nil }
            var digest: Digest?
            if let text = job["digest"]?.stringValue {
                guard let value = try? Digest(parsing: text) else { return nil }
                digest = value
            }
            parsed.append(FetchJob(path: path, destination: destination, digest: digest, size: job["size"]?.intValue, limit: limit))
        }
        var registry: RegistryPullJob?
        if let job = value["registry"] {
            guard let parsed = RegistryPullJob(json: job) else { return nil }
            registry = parsed
        }
        self.init(mirrors: mirrors, jobs: parsed, progress: progress, registry: registry)
    }
}

/// One downloaded file: its verified digest and size, and the mirror that served it.
public struct FetchedFile: Sendable, Equatable {
    public var digest: Digest
    public var size: Int64
    public var mirror: String
    public init(digest: Digest, size: Int64, mirror: String) { self.digest = digest; self.size = size; self.mirror = mirror }
}

/// Why a fetch failed, as `strata-fetch` said it: one sentence for the user, and the path.
public struct FetchFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
    public var description: String { message }
}

/// `strata-fetch`'s answer on its stdout.
public enum FetchResponse: Sendable, Equatable {
    case fetched([FetchedFile])
    case failed(FetchFailure)

    public var json: JSONValue {
        switch self {
        case .fetched(let files):
            return .object(["fetched": .array(files.map {
                .object(["digest": .string($0.digest.description), "size": .int($0.size), "mirror": .string($0.mirror)])
            })])
        case .failed(let failure):
            return .object(["error": .string(failure.message), "path": .string(failure.path)])
        }
    }

    public init?(json value: JSONValue) {
        if let message = value["error"]?.stringValue {
            self = .failed(FetchFailure(path: value["path"]?.stringValue ?? "", message: message))
            return
        }
        guard let items = value["fetched"]?.arrayValue else { return nil }
        var files: [FetchedFile] = []
        for item in items {
            guard let text = item["digest"]?.stringValue, let digest = try? Digest(parsing: text),
                  let size = item["size"]?.intValue, let mirror = item["mirror"]?.stringValue else { return nil }
            files.append(FetchedFile(digest: digest, size: size, mirror: mirror))
        }
        self = .fetched(files)
    }
}

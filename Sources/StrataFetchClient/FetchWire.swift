import StrataJSON
import StrataModel
import StrataRegistry

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
/// image for `platform` that strata lacks, each verified), which `strata` then reads and stores.
public struct RegistryPullJob: Sendable, Equatable {
    public var endpoint: RegistryEndpoint
    public var repository: String
    /// A tag, or a manifest digest.
    public var reference: String
    public var os: String
    public var architecture: String
    public var staging: String
    /// Blobs strata already has: not fetched.
    public var present: [Digest]
    /// Manifests and config only (what `strata lock` pins), no layers.
    public var manifestsOnly: Bool

    public init(endpoint: RegistryEndpoint, repository: String, reference: String, os: String, architecture: String, staging: String,
                present: [Digest] = [], manifestsOnly: Bool = false) {
        self.endpoint = endpoint; self.repository = repository; self.reference = reference
        self.os = os; self.architecture = architecture; self.staging = staging
        self.present = present; self.manifestsOnly = manifestsOnly
    }

    var json: JSONValue {
        .object([
            "endpoint": endpoint.json, "repository": .string(repository), "reference": .string(reference),
            "os": .string(os), "architecture": .string(architecture), "staging": .string(staging),
            "present": .array(present.map { .string($0.description) }), "manifestsOnly": .bool(manifestsOnly),
        ])
    }

    init?(json value: JSONValue) {
        guard let endpoint = value["endpoint"].flatMap(RegistryEndpoint.init(json:)), let repository = value["repository"]?.stringValue,
              let reference = value["reference"]?.stringValue, let os = value["os"]?.stringValue,
              let architecture = value["architecture"]?.stringValue, let staging = value["staging"]?.stringValue,
              let present = value["present"]?.arrayValue?.compactMap({ $0.stringValue.flatMap { try? Digest(parsing: $0) } }),
              let manifestsOnly = value["manifestsOnly"]?.boolValue else { return nil }
        self.init(endpoint: endpoint, repository: repository, reference: reference, os: os, architecture: architecture, staging: staging,
                  present: present, manifestsOnly: manifestsOnly)
    }
}

/// An image for `strata-fetch` to push: its blobs (files of the store), then its manifests,
/// children first, the last under `tag` (or its digest).
public struct RegistryPushJob: Sendable, Equatable {
    public struct Blob: Sendable, Equatable {
        public var digest: Digest
        public var size: Int64
        public var path: String
        /// Repositories of the same registry that had it, to mount from.
        public var mountFrom: [String]
        public init(digest: Digest, size: Int64, path: String, mountFrom: [String] = []) {
            self.digest = digest; self.size = size; self.path = path; self.mountFrom = mountFrom
        }
    }

    public struct Manifest: Sendable, Equatable {
        public var digest: Digest
        public var mediaType: String
        public var path: String
        public init(digest: Digest, mediaType: String, path: String) { self.digest = digest; self.mediaType = mediaType; self.path = path }
    }

    public var endpoint: RegistryEndpoint
    public var repository: String
    public var tag: String?
    public var blobs: [Blob]
    public var manifests: [Manifest]
    /// Blobs bigger than this are sent in chunks of it; 0, in one request.
    public var chunkSize: Int64

    public init(endpoint: RegistryEndpoint, repository: String, tag: String?, blobs: [Blob], manifests: [Manifest], chunkSize: Int64 = 0) {
        self.endpoint = endpoint; self.repository = repository; self.tag = tag
        self.blobs = blobs; self.manifests = manifests; self.chunkSize = chunkSize
    }

    var json: JSONValue {
        var fields: [String: JSONValue] = [
            "endpoint": endpoint.json, "repository": .string(repository), "chunkSize": .int(chunkSize),
            "blobs": .array(blobs.map {
                .object(["digest": .string($0.digest.description), "size": .int($0.size), "path": .string($0.path),
                         "mountFrom": .array($0.mountFrom.map(JSONValue.string))])
            }),
            "manifests": .array(manifests.map {
                .object(["digest": .string($0.digest.description), "mediaType": .string($0.mediaType), "path": .string($0.path)])
            }),
        ]
        if let tag { fields["tag"] = .string(tag) }
        return .object(fields)
    }

    init?(json value: JSONValue) {
        guard let endpoint = value["endpoint"].flatMap(RegistryEndpoint.init(json:)), let repository = value["repository"]?.stringValue,
              let chunkSize = value["chunkSize"]?.intValue, let blobs = value["blobs"]?.arrayValue,
              let manifests = value["manifests"]?.arrayValue else { return nil }
        var parsedBlobs: [Blob] = []
        for blob in blobs {
            guard let digest = blob["digest"]?.stringValue.flatMap({ try? Digest(parsing: $0) }), let size = blob["size"]?.intValue,
                  let path = blob["path"]?.stringValue, let from = blob["mountFrom"]?.arrayValue?.compactMap(\.stringValue) else { return nil }
            parsedBlobs.append(Blob(digest: digest, size: size, path: path, mountFrom: from))
        }
        var parsedManifests: [Manifest] = []
        for manifest in manifests {
            guard let digest = manifest["digest"]?.stringValue.flatMap({ try? Digest(parsing: $0) }),
                  let mediaType = manifest["mediaType"]?.stringValue, let path = manifest["path"]?.stringValue else { return nil }
            parsedManifests.append(Manifest(digest: digest, mediaType: mediaType, path: path))
        }
        self.init(endpoint: endpoint, repository: repository, tag: value["tag"]?.stringValue, blobs: parsedBlobs,
                  manifests: parsedManifests, chunkSize: chunkSize)
    }
}

/// What `strata-fetch` is to do with a registry.
public enum RegistryJob: Sendable, Equatable {
    case pull(RegistryPullJob)
    case push(RegistryPushJob)
    /// `strata login`: whether the registry takes the endpoint's credentials.
    case check(RegistryEndpoint)

    var json: JSONValue {
        switch self {
        case .pull(let job): return .object(["pull": job.json])
        case .push(let job): return .object(["push": job.json])
        case .check(let endpoint): return .object(["check": endpoint.json])
        }
    }

    init?(json value: JSONValue) {
        if let job = value["pull"] { guard let parsed = RegistryPullJob(json: job) else { return nil }; self = .pull(parsed); return }
        if let job = value["push"] { guard let parsed = RegistryPushJob(json: job) else { return nil }; self = .push(parsed); return }
        if let job = value["check"] { guard let parsed = RegistryEndpoint(json: job) else { return nil }; self = .check(parsed); return }
        return nil
    }
}

/// What a push did with the image's blobs.
public struct PushReport: Sendable, Equatable {
    public var present: Int
    public var mounted: Int
    public var uploaded: Int
    public init(present: Int, mounted: Int, uploaded: Int) { self.present = present; self.mounted = mounted; self.uploaded = uploaded }
}

/// What `strata` asks `strata-fetch` on its stdin: all of `jobs`, or none; or one image
/// from a registry (`registry`).
public struct FetchRequest: Sendable, Equatable {
    public var mirrors: [String]
    public var jobs: [FetchJob]
    /// Draw a progress line on stderr when it is a terminal.
    public var progress: Bool
    public var registry: RegistryJob?

    public init(mirrors: [String], jobs: [FetchJob], progress: Bool, registry: RegistryJob? = nil) {
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
        var registry: RegistryJob?
        if let job = value["registry"] {
            guard let parsed = RegistryJob(json: job) else { return nil }
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
    case pushed(PushReport)
    case failed(FetchFailure)

    public var json: JSONValue {
        switch self {
        case .fetched(let files):
            return .object(["fetched": .array(files.map {
                .object(["digest": .string($0.digest.description), "size": .int($0.size), "mirror": .string($0.mirror)])
            })])
        case .pushed(let report):
            return .object(["pushed": .object(["present": .int(Int64(report.present)), "mounted": .int(Int64(report.mounted)),
                                               "uploaded": .int(Int64(report.uploaded))])])
        case .failed(let failure):
            return .object(["error": .string(failure.message), "path": .string(failure.path)])
        }
    }

    public init?(json value: JSONValue) {
        if let message = value["error"]?.stringValue {
            self = .failed(FetchFailure(path: value["path"]?.stringValue ?? "", message: message))
            return
        }
        if let pushed = value["pushed"] {
            guard let present = pushed["present"]?.intValue, let mounted = pushed["mounted"]?.intValue,
                  let uploaded = pushed["uploaded"]?.intValue else { return nil }
            self = .pushed(PushReport(present: Int(present), mounted: Int(mounted), uploaded: Int(uploaded)))
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

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

/// What `strata` asks `strata-fetch` on its stdin: all of `jobs`, or none.
public struct FetchRequest: Sendable, Equatable {
    public var mirrors: [String]
    public var jobs: [FetchJob]
    /// Draw a progress line on stderr when it is a terminal.
    public var progress: Bool

    public init(mirrors: [String], jobs: [FetchJob], progress: Bool) {
        self.mirrors = mirrors; self.jobs = jobs; self.progress = progress
    }

    public var json: JSONValue {
        .object([
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
        ])
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
        self.init(mirrors: mirrors, jobs: parsed, progress: progress)
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

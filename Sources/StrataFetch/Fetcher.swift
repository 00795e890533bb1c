import AsyncHTTPClient
import Glibc
import StrataModel

/// Downloads files from a list of mirrors, verifying size and sha256 while they stream.
///
/// Thread-safe (immutable). Each download tries the mirrors in order: a mirror gets up to
/// `attempts` attempts for failures that may pass (connection refused or reset, timeouts,
/// HTTP 5xx, a body cut short), with a short backoff between them; a missing file (HTTP 404 or
/// 410) or bytes that fail verification move on to the next mirror at once. A download either
/// leaves its destination holding exactly the verified bytes, or leaves no destination at all.
///
/// The API is synchronous: it blocks the calling thread while the downloads run on threads of
/// their own, so it may be called from anywhere, though from an async context it holds a
/// thread of the cooperative pool for the duration.
public final class Fetcher: Sendable {
    /// Base URLs: `http://host/debian`, `https://…`, or `file:///abs/dir` (copied with the same checks).
    public let mirrors: [String]
    public let attempts: Int
    public let parallelism: Int
    public let progress: FetchProgress?
    /// Sent with every HTTP request (a registry's `Authorization`). AsyncHTTPClient drops
    /// `Authorization` on a redirect to another origin (a registry's blob storage).
    public let headers: [(name: String, value: String)]
    let client: HTTPClient

    public convenience init(mirrors: [String], attempts: Int = 3, parallelism: Int = 8, progress: FetchProgress? = nil,
                            headers: [(name: String, value: String)] = []) {
        self.init(mirrors: mirrors, attempts: attempts, parallelism: parallelism, progress: progress, client: Fetcher.sharedClient,
                  headers: headers)
    }

    /// With another client, e.g. one with shorter timeouts in tests.
    init(mirrors: [String], attempts: Int, parallelism: Int, progress: FetchProgress?, client: HTTPClient,
         headers: [(name: String, value: String)] = []) {
        self.mirrors = mirrors
        self.attempts = max(1, attempts)
        self.parallelism = max(1, parallelism)
        self.progress = progress
        self.client = client
        self.headers = headers
    }

    /// The process's client: never shut down, so it lives as long as the process.
    static let sharedClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration())

    static func configuration(connectTimeout: Int64 = 10, readTimeout: Int64 = 60) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 10, allowCycles: false),
            timeout: .init(connect: .seconds(connectTimeout), read: .seconds(readTimeout)),
            // The bytes as stored are what the digests pin: a `.gz` served with
            // `Content-Encoding: gzip` must not be unpacked on the way.
            decompression: .disabled)
        // We retry ourselves, then move to the next mirror; the pool's own retries would hold a
        // request to a dead mirror until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        return configuration
    }

    /// Downloads one file (see `Download`), trying each mirror in turn.
    public func fetch(_ download: Download) throws(FetchError) -> Fetched {
        let result = FetchExecutor.runBlocking { () async -> Result<Fetched, FetchError> in
            self.progress?.begin(files: 1, bytes: download.size)
            defer { self.progress?.end() }
            switch await self.run(download) {
            case .fetched(let fetched): return .success(fetched)
            case .failed(let error): return .failure(error)
            // Nothing cancels this task; should anything, the caller learns which file is missing.
            case .cancelled: return .failure(.unavailable(path: download.path, failures: []))
            }
        }
        return try result.get()
    }

    /// Downloads every file, up to `parallelism` at once, all or nothing: once a download has
    /// failed at every mirror, no further one starts, the running ones are cancelled, every
    /// destination this call created is deleted, and that first failure is thrown.
    public func fetchAll(_ downloads: [Download]) throws(FetchError) -> [Fetched] {
        let result = FetchExecutor.runBlocking { await self.runAll(downloads) }
        return try result.get()
    }

    func runAll(_ downloads: [Download]) async -> Result<[Fetched], FetchError> {
        let sizes = downloads.compactMap(\.size)
        progress?.begin(files: downloads.count, bytes: sizes.count == downloads.count ? sizes.reduce(0, +) : nil)
        defer { progress?.end() }
        var fetched = [Fetched?](repeating: nil, count: downloads.count)
        var failure: FetchError?
        await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = 0
            while next < downloads.count, next < parallelism {
                let index = next
                group.addTask { (index, await self.run(downloads[index])) }
                next += 1
            }
            while let (index, outcome) = await group.next() {
                switch outcome {
                case .fetched(let result): fetched[index] = result
                case .failed(let error):
                    if failure == nil {
                        failure = error
                        group.cancelAll()
                    }
                case .cancelled: break
                }
                if failure == nil, next < downloads.count {
                    let index = next
                    group.addTask { (index, await self.run(downloads[index])) }
                    next += 1
                }
            }
        }
        let done = fetched.compactMap { $0 }
        if failure == nil, done.count == downloads.count { return .success(done) }
        for (index, result) in fetched.enumerated() where result != nil {
            unlink(downloads[index].destination)
        }
        return .failure(failure ?? .unavailable(path: "", failures: []))
    }

    /// How one download ended.
    enum Outcome: Sendable {
        case fetched(Fetched)
        case failed(FetchError)
        /// Stopped because another download of the same `fetchAll` failed.
        case cancelled
    }

    /// Seconds to wait before attempt `attempt + 1` at the same mirror.
    static func backoff(after attempt: Int) -> Double {
        let delays = [0.2, 0.5, 1.0, 2.0]
        return delays[min(max(attempt, 1), delays.count) - 1]
    }

    /// One download: create the destination, try the mirrors, verify, and on any failure
    /// (cancellation included) delete the destination.
    func run(_ download: Download) async -> Outcome {
        guard Fetcher.isPlainRelativePath(download.path) else { return .failed(.invalidPath(download.path)) }
        guard !mirrors.isEmpty else { return .failed(.noMirrors(path: download.path)) }
        if Task.isCancelled { return .cancelled }
        let sink: Sink
        switch Sink.create(download) {
        case .success(let created): sink = created
        case .failure(let error): return .failed(error)
        }
        var failures: [MirrorFailure] = []
        progress?.fileStarted(download.path, size: download.size)
        for mirror in mirrors {
            guard let source = MirrorSource(mirror, path: download.path) else {
                failures.append(MirrorFailure(mirror: mirror, url: mirror, reason: .invalidMirror, attempts: 1))
                continue
            }
            var attempt = 1
            // A transfer cut short at this mirror goes on from where it stopped (`Range`),
            // as apt and docker do; the bytes so far are already hashed and counted.
            var resume = false
            while true {
                let outcome: AttemptOutcome
                if resume, sink.count > 0 {
                    outcome = await self.attempt(source, download, sink, from: sink.count)
                } else {
                    switch sink.reset() {
                    case .failure(let error): outcome = .local(error)
                    case .success: outcome = await self.attempt(source, download, sink)
                    }
                }
                switch outcome {
                case .done:
                    progress?.fileDone(download.path, status: "Download complete")
                    switch sink.finish() {
                    case .success(let (digest, size)): return .fetched(Fetched(digest: digest, size: size, mirror: mirror))
                    case .failure(let error): return .failed(error)
                    }
                case .local(let error):
                    progress?.add(bytes: -sink.count, file: download.path)
                    sink.discard()
                    return .failed(error)
                case .cancelled:
                    progress?.add(bytes: -sink.count, file: download.path)
                    sink.discard()
                    return .cancelled
                case .failed(let reason):
                    resume = reason.isResumable
                    if reason.isTransient, attempt < attempts, !Task.isCancelled {
                        if !resume { progress?.add(bytes: -sink.count, file: download.path) }
                        await FetchExecutor.sleep(seconds: reason.retryAfter ?? Fetcher.backoff(after: attempt))
                        attempt += 1
                        continue
                    }
                    progress?.add(bytes: -sink.count, file: download.path)
                    resume = false
                    failures.append(MirrorFailure(mirror: mirror, url: source.url, reason: reason, attempts: attempt))
                }
                break
            }
            if Task.isCancelled {
                sink.discard()
                return .cancelled
            }
        }
        sink.discard()
        return .failed(Fetcher.error(for: download.path, failures))
    }

    /// The error the user must hear: wrong bytes matter more than unreachable mirrors.
    static func error(for path: String, _ failures: [MirrorFailure]) -> FetchError {
        for failure in failures {
            if case .digestMismatch(let expected, let actual) = failure.reason {
                return .digestMismatch(path: path, expected: expected, actual: actual, url: failure.url, failures: failures)
            }
        }
        for failure in failures {
            if case .sizeMismatch(let expected, let actual) = failure.reason {
                return .sizeMismatch(path: path, expected: expected, actual: actual, url: failure.url, failures: failures)
            }
        }
        return .unavailable(path: path, failures: failures)
    }

    /// Relative, no empty, `.` or `..` component, no control characters: a path that stays
    /// below the mirror's base whatever the server or the file system does with it.
    static func isPlainRelativePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != "" && $0 != "." && $0 != ".." }
    }
}

import AsyncHTTPClient
import Glibc
import StrataOS
import NIOCore
import StrataModel

/// Where one download is tried at one mirror.
enum MirrorSource {
    case http(url: String)
    /// A `file:///abs/dir` mirror: `path` is the file's absolute path.
    case file(url: String, path: String)

    /// Nil when `mirror` is not an `http://`, `https://` or `file:///` URL.
    init?(_ mirror: String, path: String) {
        let lower = mirror.lowercased()
        var base = Substring(mirror)
        while base.hasSuffix("/") { base = base.dropLast() }
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard base.count > (lower.hasPrefix("http://") ? 7 : 8) else { return nil }
            self = .http(url: base + "/" + MirrorSource.percentEncoded(path))
        } else if lower.hasPrefix("file:///") {
            let directory = base.dropFirst(7)  // keeps the path's leading slash
            self = .file(url: base + "/" + path, path: directory + "/" + path)
        } else {
            return nil
        }
    }

    var url: String {
        switch self {
        case .http(let url), .file(let url, _): return url
        }
    }

    /// `path` with every byte outside RFC 3986's `pchar` and `/` percent-encoded (Debian file
    /// names carry `+` and `~`, which stay; a `%`, `?` or `#` would change what the URL names).
    static func percentEncoded(_ path: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(byte)
            case _ where "-._~!$&'()*+,;=:@/".utf8.contains(byte):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// How one attempt at one mirror ended.
enum AttemptOutcome {
    /// Every byte arrived and passed the checks; the sink holds them.
    case done
    case failed(MirrorFailure.Reason)
    /// The destination failed: no mirror can help.
    case local(FetchError)
    case cancelled
}

/// The destination of one download: hashes, counts and writes what arrives, and checks it
/// against the download's size, limit and digest.
///
/// Used by one task only. The file is created with `O_EXCL` (it is ours to delete) and
/// emptied before each attempt.
final class Sink {
    let download: Download
    private let fd: Int32
    private var open = true
    private var hasher = SHA256Stream()
    private(set) var count: Int64 = 0

    private init(download: Download, fd: Int32) {
        self.download = download
        self.fd = fd
    }

    static func create(_ download: Download) -> Result<Sink, FetchError> {
        let fd = Glibc.open(download.destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return .failure(error(download, "create", errno)) }
        // The umask must not decide the mode: the file is read by whoever reads the store.
        guard fchmod(fd, 0o644) == 0 else {
            let code = errno
            close(fd)
            unlink(download.destination)
            return .failure(error(download, "create", code))
        }
        return .success(Sink(download: download, fd: fd))
    }

    private static func error(_ download: Download, _ operation: String, _ code: Int32) -> FetchError {
        .destination(path: download.path, destination: download.destination, operation: operation, errno: code)
    }

    /// Empties the file for a new attempt.
    func reset() -> Result<Void, FetchError> {
        hasher = SHA256Stream()
        count = 0
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { return .failure(Sink.error(download, "write", errno)) }
        return .success(())
    }

    /// Takes `bytes`; nil, or why the attempt must stop.
    func append(_ bytes: UnsafeRawBufferPointer, progress: FetchProgress?) -> AttemptOutcome? {
        let total = count + Int64(bytes.count)
        // Refused before anything is written: more than the size or the limit is never stored.
        if let size = download.size {
            if total > size { return .failed(.sizeMismatch(expected: size, actual: total)) }
        } else if total > download.limit {
            return .failed(.tooLarge(limit: download.limit))
        }
        hasher.update(bytes)
        var offset = 0
        while offset < bytes.count {
            guard let base = bytes.baseAddress else { break }
            let n = write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return .local(Sink.error(download, "write", errno))
            }
            offset += n
        }
        count = total
        progress?.add(bytes: Int64(bytes.count), file: download.path)
        return nil
    }

    /// The checks at the end of the bytes: size, then digest.
    func verify() -> AttemptOutcome {
        if let size = download.size, count != size { return .failed(.sizeMismatch(expected: size, actual: count)) }
        if let expected = download.digest {
            let actual = hasher.finalize()
            if actual != expected { return .failed(.digestMismatch(expected: expected, actual: actual)) }
        }
        return .done
    }

    /// Closes the verified file.
    func finish() -> Result<(Digest, Int64), FetchError> {
        open = false
        guard close(fd) == 0 else {
            let code = errno
            unlink(download.destination)
            return .failure(Sink.error(download, "close", code))
        }
        return .success((hasher.finalize(), count))
    }

    /// Closes and deletes the file.
    func discard() {
        if open {
            open = false
            close(fd)
        }
        unlink(download.destination)
    }

    deinit {
        // Every path through `Fetcher.run` finishes or discards; this only guards a future one.
        if open {
            close(fd)
            unlink(download.destination)
        }
    }
}

extension Fetcher {
    /// One attempt at one mirror, into an emptied sink.
    /// With `from` (bytes the sink already holds), asks for the rest only; a mirror that
    /// sends the whole file again instead gets the sink emptied first.
    func attempt(_ source: MirrorSource, _ download: Download, _ sink: Sink, from offset: Int64 = 0) async -> AttemptOutcome {
        if Task.isCancelled { return .cancelled }
        switch source {
        case .http(let url): return await attemptHTTP(url, download, sink, from: offset)
        case .file(_, let path):
            if offset > 0, case .failure(let error) = sink.reset() { return .local(error) }
            return attemptFile(path, download, sink)
        }
    }

    func attemptHTTP(_ url: String, _ download: Download, _ sink: Sink, from offset: Int64 = 0) async -> AttemptOutcome {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "strata")
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        if offset > 0 { request.headers.add(name: "Range", value: "bytes=\(offset)-") }
        let response: HTTPClientResponse
        do {
            // No overall deadline: a big file on a slow link may take long; a stalled one
            // fails through the client's read timeout.
            response = try await client.execute(request, deadline: .distantFuture)
        } catch {
            if Task.isCancelled { return .cancelled }
            return .failed(Fetcher.reason(for: error))
        }
        var contentLength = response.headers.first(name: "content-length").flatMap { Int64($0) }
        switch response.status.code {
        case 200:
            if offset > 0, case .failure(let error) = sink.reset() { return .local(error) }
        case 206 where offset > 0:
            // Only the exact continuation is taken: `bytes OFFSET-LAST/TOTAL`.
            guard let range = response.headers.first(name: "content-range"), range.hasPrefix("bytes \(offset)-") else {
                return .failed(.network("the mirror answered a range other than the one asked for"))
            }
            contentLength = contentLength.map { $0 + offset }
        case 404, 410: return .failed(.notFound(status: Int(response.status.code)))
        case 429: return .failed(.rateLimited(retryAfter: Fetcher.retryAfter(response.headers.first(name: "retry-after"))))
        default: return .failed(.httpStatus(Int(response.status.code)))
        }
        if let contentLength {
            // Refuse before the body: the announced length already says the bytes are wrong.
            if let size = download.size, contentLength != size {
                return .failed(.sizeMismatch(expected: size, actual: contentLength))
            }
            if download.size == nil, contentLength > download.limit { return .failed(.tooLarge(limit: download.limit)) }
        }
        do {
            for try await buffer in response.body {
                let stop = buffer.withUnsafeReadableBytes { sink.append($0, progress: progress) }
                if let stop { return stop }
            }
        } catch {
            if Task.isCancelled { return .cancelled }
            if let contentLength { return .failed(.truncated(received: sink.count, expected: contentLength)) }
            return .failed(.network("connection lost after \(sink.count) bytes (\(Fetcher.reason(for: error)))"))
        }
        if Task.isCancelled { return .cancelled }
        if let contentLength, sink.count < contentLength {
            return .failed(.truncated(received: sink.count, expected: contentLength))
        }
        return sink.verify()
    }

    func attemptFile(_ path: String, _ download: Download, _ sink: Sink) -> AttemptOutcome {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return .failed(.noSuchFile) }
            return .failed(.unreadable(SystemError.text(code)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failed(.unreadable(SystemError.text(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failed(.unreadable("not a regular file")) }
        // A regular file's size is known up front: refuse before copying anything.
        if let size = download.size, Int64(info.st_size) != size {
            return .failed(.sizeMismatch(expected: size, actual: Int64(info.st_size)))
        }
        if download.size == nil, Int64(info.st_size) > download.limit { return .failed(.tooLarge(limit: download.limit)) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            if Task.isCancelled { return .cancelled }
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                return .failed(.unreadable(SystemError.text(errno)))
            }
            if n == 0 { break }
            if let stop = sink.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), progress: progress) { return stop }
        }
        return sink.verify()
    }

    /// Seconds a `Retry-After` asks for (delay-seconds form; an HTTP date counts as 1),
    /// capped so a hostile server cannot park a build.
    static func retryAfter(_ value: String?) -> Double {
        guard let value else { return 1 }
        return min(max(Double(value.trimmed) ?? 1, 0), 30)
    }

    /// What a failed request says, in a few words.
    static func reason(for error: any Error) -> MirrorFailure.Reason {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return .network("connection timed out")
            case .readTimeout: return .network("no data for too long")
            case .remoteConnectionClosed: return .network("connection closed by the server")
            case .invalidURL, .emptyHost, .emptyScheme: return .invalidMirror
            case .redirectLimitReached: return .network("too many redirects")
            case .redirectCycleDetected: return .network("redirect cycle")
            default: return .network("\(error)")
            }
        }
        if let error = error as? IOError { return .network(errnoText(error.errnoCode)) }
        return .network("\(error)")
    }
}

// strata-fetch: the downloader `strata` runs for the files it must fetch (see
// FetchClient for why it is a process of its own). Reads one FetchRequest as JSON
// on stdin, downloads with StrataFetch, writes one FetchResponse as JSON on stdout.
import Glibc
import StrataFetch
import StrataFetchClient
import StrataJSON
import StrataModel
import StrataOS
import StrataRegistry

func readInput() -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(0, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer[0..<n]
        if bytes.count > 64 << 20 { break }
    }
    return bytes
}

func answer(_ response: FetchResponse) -> Never {
    let bytes = JSON.compactBytes(response.json) + [0x0A]
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; exit(3) }
        offset += n
    }
    exit(0)
}

guard isatty(0) == 0, let value = try? JSON.parse(readInput()), let request = FetchRequest(json: value) else {
    FileHandleStderr.write("strata-fetch: this is strata's downloader; strata runs it with a request on stdin\n")
    exit(2)
}
// Only on a terminal: a log or a pipe should not fill with carriage returns.
let progress = request.progress && isatty(2) == 1 ? FetchProgress(label: "fetching", fd: 2) : nil
if let job = request.registry {
    // A line per layer, as docker pull and push draw them.
    let verb: String
    if case .push = job { verb = "Pushing" } else { verb = "Downloading" }
    answer(registry(job, progress: progress == nil ? nil : FetchProgress(perFile: verb, fd: 2)))
}
let fetcher = Fetcher(mirrors: request.mirrors, progress: progress)
let downloads = request.jobs.map {
    Download(path: $0.path, destination: $0.destination, digest: $0.digest, size: $0.size, limit: $0.limit)
}
do {
    let fetched = downloads.count == 1 ? [try fetcher.fetch(downloads[0])] : try fetcher.fetchAll(downloads)
    answer(.fetched(fetched.map { FetchedFile(digest: $0.digest, size: $0.size, mirror: $0.mirror) }))
} catch {
    answer(.failed(FetchFailure(path: error.path, message: error.description)))
}

enum FileHandleStderr {
    static func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// One registry job, start to end, on one session of its own.
func registry(_ job: RegistryJob, progress: FetchProgress?) -> FetchResponse {
    let endpoint: RegistryEndpoint, repository: String, scopes: [String]
    switch job {
    case .pull(let pull): (endpoint, repository, scopes) = (pull.endpoint, pull.repository, ["repository:\(pull.repository):pull"])
    case .push(let push):
        let sources = Set(push.blobs.flatMap(\.mountFrom)).subtracting([push.repository]).sorted()
        (endpoint, repository, scopes) = (push.endpoint, push.repository,
                                          ["repository:\(push.repository):pull,push"] + sources.map { "repository:\($0):pull" })
    case .check(let check): (endpoint, repository, scopes) = (check, "", [])
    }
    let session: RegistrySession
    do { session = try RegistrySession(endpoint: endpoint, repository: repository, scopes: scopes) } catch {
        return .failed(FetchFailure(path: error.path, message: error.description))
    }
    defer { session.close() }
    let outcome = FetchExecutor.runBlocking { () async -> Result<FetchResponse, FetchError> in
        do throws(FetchError) {
            try await session.connect()
            switch job {
            case .check(let endpoint):
                // With basic auth, connect() only learned which credentials to send: ask once more with them.
                let answer = try await session.send(.GET, "/v2/")
                guard answer.status == 200 else {
                    throw FetchError.registry(path: endpoint.host, message: "\(endpoint.host) refused the credentials (HTTP \(answer.status)\(RegistrySession.detail(answer.body)))")
                }
                return .success(.fetched([]))
            case .pull(let pull):
                let puller = RegistryPuller(session: session, repository: pull.repository, reference: pull.reference,
                                            platform: Platform(os: pull.os, architecture: pull.architecture), staging: pull.staging,
                                            progress: progress, present: Set(pull.present), manifestsOnly: pull.manifestsOnly)
                let fetched = try await puller.pull()
                return .success(.fetched(fetched.map { FetchedFile(digest: $0.digest, size: $0.size, mirror: $0.mirror) }))
            case .push(let push):
                var manifests: [RegistryPusher.Manifest] = []
                for manifest in push.manifests {
                    let bytes: [UInt8]
                    do throws(SystemError) { bytes = try HostFile.read(manifest.path, limit: 4 << 20) } catch {
                        throw FetchError.destination(path: push.repository, destination: manifest.path, operation: "read", errno: error.errno)
                    }
                    manifests.append(RegistryPusher.Manifest(digest: manifest.digest, mediaType: manifest.mediaType, bytes: bytes))
                }
                let pusher = RegistryPusher(session: session, repository: push.repository, tag: push.tag,
                                            blobs: push.blobs.map { RegistryPusher.Blob(digest: $0.digest, size: $0.size, path: $0.path, mountFrom: $0.mountFrom) },
                                            manifests: manifests, chunkSize: push.chunkSize,
                                            progress: progress)
                let report = try await pusher.push()
                return .success(.pushed(PushReport(present: report.present, mounted: report.mounted, uploaded: report.uploaded)))
            }
        } catch {
            return .failure(error)
        }
    }
    switch outcome {
    case .success(let response): return response
    case .failure(let error): return .failed(FetchFailure(path: error.path, message: error.description))
    }
}

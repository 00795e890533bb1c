// strata-fetch: the downloader `strata` runs for the files it must fetch (see
// FetchClient for why it is a process of its own). Reads one FetchRequest as JSON
// on stdin, downloads with StrataFetch, writes one FetchResponse as JSON on stdout.
import Glibc
import StrataFetch
import StrataFetchClient
import StrataJSON
import StrataModel

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
    let puller = RegistryPuller(base: job.base, repository: job.repository, reference: job.reference,
                                platform: Platform(os: job.os, architecture: job.architecture), staging: job.staging, progress: progress,
                                username: job.username, password: job.password)
    do { try puller.pull() } catch { answer(.failed(FetchFailure(path: error.path, message: error.description))) }
    answer(.fetched([]))
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

import AsyncHTTPClient
import Foundation
import Testing
import StrataModel
@testable import StrataFetch

/// The error `body` throws, or nil when it returns. (Untyped: a closure literal's thrown type
/// is inferred as `any Error`; `Fetcher`'s methods throw only `FetchError`.)
func failure<T>(_ body: () throws -> T) -> FetchError? {
    do {
        _ = try body()
        return nil
    } catch let error as FetchError {
        return error
    } catch {
        Issue.record("not a FetchError: \(error)")
        return nil
    }
}

/// A mirror that refuses connections: nothing listens on port 1.
let closedMirror = "http://127.0.0.1:1/"

@Suite struct FetcherTests {
    @Test func fetchesAndVerifiesWhileStreaming() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let content = bytes(300_000)
        let digest = try mirror.put("pool/main/b/bash/bash_5.2+dfsg-2~deb12u1_amd64.deb", content)
        let fetcher = Fetcher(mirrors: [mirror.url])
        let fetched = try fetcher.fetch(Download(
            path: "pool/main/b/bash/bash_5.2+dfsg-2~deb12u1_amd64.deb", destination: scratch.path("bash.deb"),
            digest: digest, size: Int64(content.count)))
        #expect(fetched == Fetched(digest: digest, size: Int64(content.count), mirror: mirror.url))
        #expect(scratch.read("bash.deb") == content)
        var info = stat()
        #expect(stat(scratch.path("bash.deb"), &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o644)

        // Without digest and size: the digest of what arrived, within the limit.
        let unpinned = try fetcher.fetch(Download(
            path: "pool/main/b/bash/bash_5.2+dfsg-2~deb12u1_amd64.deb", destination: scratch.path("again")))
        #expect(unpinned == fetched)
    }

    @Test func refusesAWrongDigestAndLeavesNoDestination() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let actual = try mirror.put("dists/testing/InRelease", bytes(1000))
        let expected = Digest.sha256(of: bytes(1000, seed: 2))
        let error = failure {
            try Fetcher(mirrors: [mirror.url]).fetch(Download(
                path: "dists/testing/InRelease", destination: scratch.path("InRelease"), digest: expected))
        }
        let url = mirror.url + "/dists/testing/InRelease"
        #expect(error == .digestMismatch(
            path: "dists/testing/InRelease", expected: expected, actual: actual, url: url,
            failures: [MirrorFailure(mirror: mirror.url, url: url, reason: .digestMismatch(expected: expected, actual: actual), attempts: 1)]))
        let text = error?.description ?? ""
        #expect(text.contains(expected.description) && text.contains(actual.description) && text.contains(url))
        #expect(scratch.names().isEmpty)
        #expect(mirror.requests() == ["GET dists/testing/InRelease 200"])  // a wrong digest is not retried
    }

    @Test(arguments: [false, true]) func refusesMoreOrFewerBytesThanTheSize(chunked: Bool) throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let content = bytes(200_000)
        let digest = try mirror.put("f", content)
        // Chunked: no Content-Length announces the size, so the stream itself is counted.
        if chunked { try mirror.faults(#"{"chunked": {"*": [1, 1, 1, 1]}}"#) }
        let fetcher = Fetcher(mirrors: [mirror.url])
        let url = mirror.url + "/f"
        for size in [Int64(content.count - 1), Int64(content.count + 1)] {
            let error = failure {
                try fetcher.fetch(Download(path: "f", destination: scratch.path("f"), digest: digest, size: size))
            }
            guard case .sizeMismatch(let path, let expected, let actual, let at, _) = error else {
                Issue.record("expected a size mismatch, got \(String(describing: error))")
                continue
            }
            #expect(path == "f" && expected == size && at == url)
            #expect(size < content.count ? actual > size : actual == content.count)
            #expect(scratch.names().isEmpty)
        }
        // Unknown size: the limit caps it.
        let error = failure { try fetcher.fetch(Download(path: "f", destination: scratch.path("f"), limit: 100_000)) }
        #expect(error == .unavailable(path: "f", failures: [
            MirrorFailure(mirror: mirror.url, url: url, reason: .tooLarge(limit: 100_000), attempts: 1),
        ]))
        #expect(scratch.names().isEmpty)
        #expect(try fetcher.fetch(Download(path: "f", destination: scratch.path("f"), limit: 200_000)).digest == digest)
    }

    @Test func usesTheSecondMirrorWhenTheFirstIsDown() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let digest = try mirror.put("p/a", bytes(10))
        let fetched = try Fetcher(mirrors: [closedMirror, mirror.url + "/"])
            .fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest, size: 10))
        #expect(fetched.mirror == mirror.url + "/")
        #expect(scratch.read("a") == bytes(10))
    }

    @Test func notFoundMovesToTheNextMirrorAtOnce() throws {
        let empty = try TestMirror()
        let full = try TestMirror()
        let scratch = try Scratch()
        let digest = try full.put("p/a", bytes(10))
        let fetched = try Fetcher(mirrors: [empty.url, full.url])
            .fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest))
        #expect(fetched.mirror == full.url)
        #expect(empty.requests() == ["GET p/a 404"])
        #expect(full.requests() == ["GET p/a 200"])
    }

    @Test func retriesServerErrors() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let digest = try mirror.put("p/a", bytes(10))
        try mirror.faults(#"{"fail": {"p/a": [500, 503]}}"#)
        let fetcher = Fetcher(mirrors: [mirror.url])
        #expect(try fetcher.fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest)).digest == digest)
        #expect(mirror.requests() == ["GET p/a 500", "GET p/a 503", "GET p/a 200"])

        // Three failures use up the attempts.
        try mirror.faults(#"{"fail": {"p/a": [500, 500, 502]}}"#)
        let error = failure { try fetcher.fetch(Download(path: "p/a", destination: scratch.path("b"), digest: digest)) }
        #expect(error == .unavailable(path: "p/a", failures: [
            MirrorFailure(mirror: mirror.url, url: mirror.url + "/p/a", reason: .httpStatus(502), attempts: 3),
        ]))
        #expect(!scratch.exists("b"))
    }

    @Test func retriesATruncatedBody() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let content = bytes(100_000)
        let digest = try mirror.put("p/a", content)
        try mirror.faults(#"{"truncate": {"p/a": [5000]}}"#)
        let fetched = try Fetcher(mirrors: [mirror.url])
            .fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest, size: Int64(content.count)))
        #expect(fetched.digest == digest)
        #expect(scratch.read("a") == content)
        #expect(mirror.requests().count == 2)
    }

    @Test func aStalledTransferFailsTheAttempt() async throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let content = bytes(100_000)
        let digest = try mirror.put("p/a", content)
        try mirror.faults(#"{"stall": {"p/a": [3]}}"#)
        let client = HTTPClient(configuration: Fetcher.configuration(connectTimeout: 1, readTimeout: 1))
        let fetcher = Fetcher(mirrors: [mirror.url], attempts: 3, parallelism: 1, progress: nil, client: client)
        let result = Result { () throws(FetchError) in
            try fetcher.fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest))
        }
        try await client.shutdown()
        #expect(try result.get().digest == digest)
        #expect(mirror.requests().count == 2)
    }

    @Test func everyMirrorDownNamesEachMirror() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let error = failure {
            try Fetcher(mirrors: [closedMirror, mirror.url + "/", "ftp://old.example/debian"])
                .fetch(Download(path: "pool/main/b/bash/bash_5.2_amd64.deb", destination: scratch.path("bash.deb")))
        }
        guard case .unavailable(let path, let failures) = error else {
            Issue.record("expected unavailable, got \(String(describing: error))")
            return
        }
        #expect(path == "pool/main/b/bash/bash_5.2_amd64.deb")
        #expect(failures.map(\.mirror) == [closedMirror, mirror.url + "/", "ftp://old.example/debian"])
        #expect(failures.map(\.attempts) == [3, 1, 1])
        #expect(failures.last?.reason == .invalidMirror)
        #expect(error?.description == "cannot download pool/main/b/bash/bash_5.2_amd64.deb: "
            + "\(closedMirror): connection refused (3 attempts); \(mirror.url)/: HTTP 404; "
            + "ftp://old.example/debian: not an http://, https:// or file:/// URL; "
            + "check the mirror (--mirror, STRATA_DEBIAN_MIRROR) or the network")
        #expect(scratch.names().isEmpty)
    }

    @Test func aCorruptMirrorIsSkippedAndEveryMirrorCorruptIsADigestMismatch() throws {
        let first = try TestMirror()
        let second = try TestMirror()
        let scratch = try Scratch()
        let digest = try first.put("p/a", bytes(100))
        try second.put("p/a", bytes(100))
        // The first request of each fetch below gets corrupt bytes.
        try first.faults(#"{"corrupt": {"*": [1, 1]}}"#)
        let fetched = try Fetcher(mirrors: [first.url, second.url])
            .fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest, size: 100))
        #expect(fetched.mirror == second.url)

        try second.faults(#"{"corrupt": {"*": [1]}}"#)
        let error = failure {
            try Fetcher(mirrors: [closedMirror, first.url, second.url])
                .fetch(Download(path: "p/a", destination: scratch.path("b"), digest: digest, size: 100))
        }
        guard case .digestMismatch(_, let expected, _, let url, let failures) = error else {
            Issue.record("expected a digest mismatch, got \(String(describing: error))")
            return
        }
        #expect(expected == digest && url == first.url + "/p/a" && failures.count == 3)
        #expect(!scratch.exists("b"))
    }

    @Test func followsRedirects() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let digest = try mirror.put("by-hash/x", bytes(10))
        try mirror.faults(#"{"redirect": {"p/a": ["by-hash/x"]}}"#)
        #expect(try Fetcher(mirrors: [mirror.url]).fetch(Download(path: "p/a", destination: scratch.path("a"), digest: digest)).digest == digest)
    }

    @Test func fetchesManyInParallel() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        var downloads: [Download] = []
        var expected: [Fetched] = []
        for i in 0..<20 {
            let content = bytes(1000 + i * 5000, seed: UInt64(i + 1))
            let digest = try mirror.put("pool/\(i).deb", content)
            downloads.append(Download(path: "pool/\(i).deb", destination: scratch.path("\(i).deb"), digest: digest, size: Int64(content.count)))
            expected.append(Fetched(digest: digest, size: Int64(content.count), mirror: mirror.url))
        }
        // Every answer waits 0.5 s, so the requests the fetcher has out together are in the
        // mirror together: one at a time it would never see more than 1. (Usually all 8, but
        // how many are out at the same instant is up to the scheduler.)
        try mirror.faults(#"{"delay": {"*": [\#(Array(repeating: "0.5", count: 20).joined(separator: ","))]}}"#)
        let fetched = try Fetcher(mirrors: [mirror.url], parallelism: 8).fetchAll(downloads)
        let peak = mirror.peakConcurrentRequests()
        #expect(peak > 1, "one download at a time")
        #expect(peak <= 8, "more than `parallelism` downloads at once")
        #expect(mirror.requests().count == 20, "one request per file: no retries")
        #expect(fetched == expected)
        for i in 0..<20 { #expect(scratch.read("\(i).deb") == bytes(1000 + i * 5000, seed: UInt64(i + 1))) }
        #expect(try Fetcher(mirrors: [mirror.url]).fetchAll([]) == [])
    }

    @Test func fetchAllIsAllOrNothing() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        var downloads: [Download] = []
        for i in 0..<20 {
            let digest = try mirror.put("pool/\(i).deb", bytes(50_000, seed: UInt64(i + 1)))
            downloads.append(Download(path: "pool/\(i).deb", destination: scratch.path("\(i).deb"), digest: digest))
        }
        let wrong = Digest.sha256(of: bytes(1))
        downloads[13].digest = wrong
        // The files after the bad one answer late, so that the failure is seen while they are
        // still in flight (on a loaded machine they could otherwise all finish first).
        let late = (14..<20).map { "\"pool/\($0).deb\": [1.0]" }.joined(separator: ", ")
        try mirror.faults("{\"delay\": {\(late)}}")
        let error = failure { try Fetcher(mirrors: [mirror.url], parallelism: 4).fetchAll(downloads) }
        guard case .digestMismatch(let path, let expected, _, _, _) = error else {
            Issue.record("expected a digest mismatch, got \(String(describing: error))")
            return
        }
        #expect(path == "pool/13.deb" && expected == wrong)
        #expect(scratch.names().isEmpty)
        // Downloads after the failure were not started.
        #expect(mirror.requests().count < 20)
        try mirror.faults("{}")

        // A destination that exists is never deleted, and fails the batch.
        #expect(FileManager.default.createFile(atPath: scratch.path("5.deb"), contents: Data("mine".utf8)))
        downloads[13].digest = nil
        let exists = failure { try Fetcher(mirrors: [mirror.url], parallelism: 4).fetchAll(downloads) }
        #expect(exists == .destination(path: "pool/5.deb", destination: scratch.path("5.deb"), operation: "create", errno: EEXIST))
        #expect(scratch.names() == ["5.deb"])
        #expect(scratch.read("5.deb") == Array("mine".utf8))
    }

    @Test func copiesFromAFileMirror() throws {
        let mirror = try TestMirror()  // used only as a directory here
        let scratch = try Scratch()
        let digest = try mirror.put("pool/a.deb", bytes(3_000_000))
        let fileMirror = "file://" + mirror.directory
        let fetched = try Fetcher(mirrors: ["file:///nonexistent", fileMirror])
            .fetch(Download(path: "pool/a.deb", destination: scratch.path("a"), digest: digest, size: 3_000_000))
        #expect(fetched == Fetched(digest: digest, size: 3_000_000, mirror: fileMirror))
        #expect(scratch.read("a") == bytes(3_000_000))

        let error = failure {
            try Fetcher(mirrors: [fileMirror + "/"])
                .fetch(Download(path: "pool/a.deb", destination: scratch.path("b"), digest: Digest.sha256(of: bytes(1))))
        }
        guard case .digestMismatch(_, _, let actual, let url, _) = error else {
            Issue.record("expected a digest mismatch, got \(String(describing: error))")
            return
        }
        #expect(actual == digest && url == fileMirror + "/pool/a.deb")
        #expect(!scratch.exists("b"))
        let missing = failure { try Fetcher(mirrors: [fileMirror]).fetch(Download(path: "pool/b.deb", destination: scratch.path("b"))) }
        #expect(missing == .unavailable(path: "pool/b.deb", failures: [
            MirrorFailure(mirror: fileMirror, url: fileMirror + "/pool/b.deb", reason: .noSuchFile, attempts: 1),
        ]))
    }

    @Test func refusesPathsOutsideTheMirrorAndAnExistingDestination() throws {
        let scratch = try Scratch()
        let fetcher = Fetcher(mirrors: [closedMirror])
        for path in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/\n"] {
            #expect(failure { try fetcher.fetch(Download(path: path, destination: scratch.path("x"))) } == .invalidPath(path))
        }
        #expect(failure { try Fetcher(mirrors: []).fetch(Download(path: "a", destination: scratch.path("x"))) } == .noMirrors(path: "a"))
        #expect(scratch.names().isEmpty)
        #expect(FileManager.default.createFile(atPath: scratch.path("x"), contents: Data("mine".utf8)))
        let error = failure { try fetcher.fetch(Download(path: "a", destination: scratch.path("x"))) }
        #expect(error == .destination(path: "a", destination: scratch.path("x"), operation: "create", errno: EEXIST))
        #expect(error?.description == "cannot create \(scratch.path("x")) (downloading a): it already exists; check the directory and free space")
        #expect(scratch.read("x") == Array("mine".utf8))
    }

    @Test func percentEncodesWhatWouldChangeTheURL() {
        #expect(MirrorSource.percentEncoded("pool/main/g/gcc-12/libstdc++6_12.2.0-14~deb12u1_amd64.deb")
            == "pool/main/g/gcc-12/libstdc++6_12.2.0-14~deb12u1_amd64.deb")
        #expect(MirrorSource.percentEncoded("a b/c%d?e#f") == "a%20b/c%25d%3Fe%23f")
        #expect(MirrorSource("http://h/debian//", path: "x")?.url == "http://h/debian/x")
        #expect(MirrorSource("file:///srv/mirror/", path: "x") .map { if case .file(_, let p) = $0 { p } else { "" } } == "/srv/mirror/x")
        #expect(MirrorSource("file://host/x", path: "x") == nil)
        #expect(MirrorSource("http://", path: "x") == nil)
    }

    @Test func progressCountsFilesAndBytes() throws {
        let scratch = try Scratch()
        let fd = open(scratch.path("progress"), O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(fd >= 0)
        let progress = FetchProgress(label: "fetching", fd: fd)
        progress.begin(files: 3, bytes: 66_000_000)
        progress.add(bytes: 45_200_000)
        progress.fileDone()
        #expect(progress.line() == "fetching 1/3 files, 45.2/66.0 MB")
        progress.add(bytes: -200_000)
        #expect(progress.line() == "fetching 1/3 files, 45.0/66.0 MB")
        progress.begin(files: 2, bytes: nil)
        progress.add(bytes: 1_234_567)
        #expect(progress.line() == "fetching 0/2 files, 1.2 MB")
        progress.end()
        close(fd)
        let drawn = String(decoding: scratch.read("progress") ?? [], as: UTF8.self)
        #expect(drawn.hasPrefix("\r\u{1b}[Kfetching 0/3 files, 0.0/66.0 MB"))
        #expect(drawn.hasSuffix("\r\u{1b}[K"))
        #expect(!drawn.contains("\n"))
    }

    @Test func reportsProgressWhileFetching() throws {
        let mirror = try TestMirror()
        let scratch = try Scratch()
        let digest = try mirror.put("a", bytes(1000))
        let fd = open(scratch.path("progress"), O_WRONLY | O_CREAT | O_EXCL, 0o644)
        defer { close(fd) }
        let fetcher = Fetcher(mirrors: [mirror.url], progress: FetchProgress(fd: fd))
        _ = try fetcher.fetchAll([Download(path: "a", destination: scratch.path("a"), digest: digest, size: 1000)])
        let drawn = String(decoding: scratch.read("progress") ?? [], as: UTF8.self)
        #expect(drawn.hasPrefix("\r\u{1b}[Kfetching 0/1 files, 0.0/0.0 MB"))
        #expect(drawn.hasSuffix("\r\u{1b}[K"))
    }
}

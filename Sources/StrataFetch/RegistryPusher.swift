import AsyncHTTPClient
import Glibc
import NIOCore
import NIOHTTP1
import StrataModel
import StrataRegistry

/// Pushes one image to a registry as `docker push` does: every blob the repository lacks
/// (`HEAD` first), mounted from another repository of the same registry where strata saw it
/// last, else uploaded (one `PUT`, or `PATCH` chunks with `Content-Range` for a blob bigger
/// than `chunkSize`); then the manifests, children before the index, the last one under the
/// tag. Blobs move a few at a time; the manifests only once every blob is there, so a
/// failed push never leaves a tag naming an incomplete image.
public final class RegistryPusher: Sendable {
    public struct Blob: Sendable {
        public var digest: Digest
        public var size: Int64
        /// The file holding the blob's bytes (the store's).
        public var path: String
        /// Repositories of this registry that had it, to mount from.
        public var mountFrom: [String]
        public init(digest: Digest, size: Int64, path: String, mountFrom: [String] = []) {
            self.digest = digest; self.size = size; self.path = path; self.mountFrom = mountFrom
        }
    }

    public struct Manifest: Sendable {
        public var digest: Digest
        public var mediaType: String
        public var bytes: [UInt8]
        public init(digest: Digest, mediaType: String, bytes: [UInt8]) { self.digest = digest; self.mediaType = mediaType; self.bytes = bytes }
    }

    /// How many blobs were there already, mounted, uploaded.
    public struct Report: Sendable, Equatable {
        public var present = 0
        public var mounted = 0
        public var uploaded = 0
        public init(present: Int = 0, mounted: Int = 0, uploaded: Int = 0) { self.present = present; self.mounted = mounted; self.uploaded = uploaded }
    }

    enum Outcome: Sendable { case present, mounted, uploaded }

    public let session: RegistrySession
    public let repository: String
    public let tag: String?
    public let blobs: [Blob]
    public let manifests: [Manifest]
    /// Blobs bigger than this go in `PATCH` chunks of this size (at least what the registry's
    /// `OCI-Chunk-Min-Length` asks); 0 means always in one `PUT`.
    public let chunkSize: Int64
    public let progress: FetchProgress?
    static let parallelism = 4

    public init(session: RegistrySession, repository: String, tag: String?, blobs: [Blob], manifests: [Manifest],
                chunkSize: Int64 = 0, progress: FetchProgress? = nil) {
        self.session = session; self.repository = repository; self.tag = tag
        self.blobs = blobs; self.manifests = manifests; self.chunkSize = chunkSize; self.progress = progress
    }

    var image: String { session.name + (tag.map { ":" + $0 } ?? "") }

    public func push() async throws(FetchError) -> Report {
        var seen = Set<Digest>()
        let unique = blobs.filter { seen.insert($0.digest).inserted }
        progress?.begin(files: unique.count, bytes: unique.map(\.size).reduce(0, +))
        let outcomes: [Result<Outcome, FetchError>] = await withTaskGroup(of: Result<Outcome, FetchError>.self) { group in
            var next = 0, results: [Result<Outcome, FetchError>] = []
            func start() {
                let blob = unique[next]
                next += 1
                group.addTask {
                    do throws(FetchError) { return .success(try await self.push(blob)) } catch { return .failure(error) }
                }
            }
            while next < unique.count, next < Self.parallelism { start() }
            while let result = await group.next() {
                results.append(result)
                if case .failure = result { group.cancelAll(); continue }
                if next < unique.count { start() }
            }
            return results
        }
        progress?.end()
        var report = Report()
        for outcome in outcomes {
            switch outcome {
            case .failure(let error): throw error
            case .success(.present): report.present += 1
            case .success(.mounted): report.mounted += 1
            case .success(.uploaded): report.uploaded += 1
            }
        }
        for (index, manifest) in manifests.enumerated() {
            try await put(manifest, as: index == manifests.count - 1 ? (tag ?? manifest.digest.description) : manifest.digest.description)
        }
        return report
    }

    func push(_ blob: Blob) async throws(FetchError) -> Outcome {
        let blobs = "/v2/" + repository + "/blobs/"
        let head = try await session.send(.HEAD, blobs + blob.digest.description)
        if head.status == 200 {
            progress?.add(bytes: blob.size, file: blob.digest.description)
            progress?.fileDone(blob.digest.description, status: "Layer already exists")
            return .present
        }
        guard head.status == 404 else { throw refusal(head, "blob \(blob.digest.short)") }
        var opened: RegistrySession.Response?
        for source in blob.mountFrom where source != repository {
            let answer = try await session.send(.POST, blobs + "uploads/?mount=\(blob.digest)&from=\(RegistrySession.queryEncoded(source))")
            if answer.status == 201 {
                progress?.add(bytes: blob.size, file: blob.digest.description)
                progress?.fileDone(blob.digest.description, status: "Mounted from \(source)")
                return .mounted
            }
            // A registry that cannot mount (or no longer has it there) opens an upload instead.
            if answer.status == 202 { opened = answer; break }
        }
        let start: RegistrySession.Response
        if let opened { start = opened } else { start = try await session.send(.POST, blobs + "uploads/") }
        guard start.status == 202, let location = start.headers.first(name: "Location") else {
            throw refusal(start, "upload of blob \(blob.digest.short)")
        }
        progress?.fileStarted(blob.digest.description, size: blob.size)
        let minimum = start.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int64($0) } ?? 0
        let chunk = chunkSize > 0 ? max(chunkSize, minimum) : 0
        if chunk > 0, blob.size > chunk {
            try await uploadInChunks(blob, at: location, chunk: chunk)
        } else {
            let done = try await session.send(.PUT, Self.appending(digest: blob.digest, to: location), headers: [
                ("Content-Type", "application/octet-stream"), ("Content-Length", String(blob.size)),
            ], body: fileBody(blob, from: 0, count: blob.size))
            try check(done, blob)
        }
        progress?.fileDone(blob.digest.description, status: "Pushed")
        return .uploaded
    }

    /// `PATCH` after `PATCH`, each with its `Content-Range`, following the newest `Location`;
    /// offsets are ours (a registry that says otherwise in `Range` is refused), 201 or 202
    /// both mean the chunk was taken; then an empty `PUT` with the digest.
    func uploadInChunks(_ blob: Blob, at first: String, chunk: Int64) async throws(FetchError) {
        var location = first
        var offset: Int64 = 0
        while offset < blob.size {
            let count = min(chunk, blob.size - offset)
            let answer = try await session.send(.PATCH, location, headers: [
                ("Content-Type", "application/octet-stream"), ("Content-Length", String(count)),
                ("Content-Range", "\(offset)-\(offset + count - 1)"),
            ], body: fileBody(blob, from: offset, count: count))
            guard answer.status == 202 || answer.status == 201 else { throw refusal(answer, "chunk at \(offset) of blob \(blob.digest.short)") }
            if let range = answer.headers.first(name: "Range"), let last = range.split(separator: "-").last.flatMap({ Int64($0) }),
               last != offset + count - 1 {
                throw .registry(path: image, message: "\(session.endpoint.host) took blob \(blob.digest.short) up to byte \(last), not \(offset + count - 1) as sent; the registry lost part of the upload")
            }
            if let next = answer.headers.first(name: "Location") { location = next }
            offset += count
        }
        let done = try await session.send(.PUT, Self.appending(digest: blob.digest, to: location), headers: [("Content-Length", "0")])
        try check(done, blob)
    }

    func check(_ answer: RegistrySession.Response, _ blob: Blob) throws(FetchError) {
        guard answer.status == 201 else { throw refusal(answer, "blob \(blob.digest.short)") }
        if let said = answer.headers.first(name: "Docker-Content-Digest"), said != blob.digest.description {
            throw .registry(path: image, message: "\(session.endpoint.host) stored blob \(blob.digest.short) as \(said); the upload was corrupted on the way")
        }
    }

    func put(_ manifest: Manifest, as reference: String) async throws(FetchError) {
        let bytes = manifest.bytes
        let answer = try await session.send(.PUT, "/v2/" + repository + "/manifests/" + reference, headers: [
            ("Content-Type", manifest.mediaType), ("Content-Length", String(bytes.count)),
        ], body: { .bytes(bytes) })
        guard answer.status == 201 || answer.status == 200 else { throw refusal(answer, "manifest \(reference)") }
        if let said = answer.headers.first(name: "Docker-Content-Digest"), said != manifest.digest.description {
            throw .registry(path: image, message: "\(session.endpoint.host) stored the manifest \(reference) as \(said), not \(manifest.digest); it rewrote it")
        }
    }

    func refusal(_ answer: RegistrySession.Response, _ what: String) -> FetchError {
        RegistryRefusal.error(status: answer.status, body: answer.body, what: what + " of " + repository, of: image, session: session, pushing: true)
    }

    /// An upload `Location` with `digest=` added to its query.
    static func appending(digest: Digest, to location: String) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + RegistrySession.queryEncoded(digest.description)
    }

    /// The bytes `[offset, offset + count)` of the blob's file, read as they are sent.
    func fileBody(_ blob: Blob, from offset: Int64, count: Int64) -> RegistrySession.Body {
        let progress = self.progress
        return { .stream(FileChunks(path: blob.path, file: blob.digest.description, offset: offset, count: count, progress: progress),
                         length: .known(count)) }
    }
}

/// A range of a file as a sequence of buffers, for a request body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    /// What progress calls it (the blob's digest).
    let file: String
    let offset: Int64
    let count: Int64
    let progress: FetchProgress?

    final class AsyncIterator: AsyncIteratorProtocol {
        let chunks: FileChunks
        var fd: Int32 = -1
        var position: Int64
        let end: Int64

        init(_ chunks: FileChunks) {
            self.chunks = chunks
            position = chunks.offset
            end = chunks.offset + chunks.count
        }

        func next() async throws -> ByteBuffer? {
            guard position < end else { return nil }
            if fd < 0 {
                fd = open(chunks.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw FileChunkError(path: chunks.path, errno: errno) }
            }
            let want = Int(Swift.min(end - position, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            var failure: Int32 = 0
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                while true {
                    let n = pread(fd, raw.baseAddress, want, off_t(position))
                    if n < 0, errno == EINTR { continue }
                    if n < 0 { failure = errno }
                    return Swift.max(n, 0)
                }
            }
            if failure != 0 { throw FileChunkError(path: chunks.path, errno: failure) }
            // A file shorter than the blob it should hold: the store changed under the push.
            if read == 0 { throw FileChunkError(path: chunks.path, errno: EIO) }
            position += Int64(read)
            chunks.progress?.add(bytes: Int64(read), file: chunks.file)
            return buffer
        }

        deinit { if fd >= 0 { close(fd) } }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(self) }
}

struct FileChunkError: Error {
    var path: String
    var errno: Int32
}

import StrataEnvironment
import StrataFetchClient
import StrataJSON
import StrataModel
import StrataOCI
import StrataOS
import StrataRegistry
import StrataStore

/// What a push sent.
public struct PushedImage: Sendable, Equatable {
    /// Where it went: `HOST/REPO:TAG`.
    public var reference: String
    /// The digest of the manifest (or index) pushed.
    public var digest: Digest
    public var report: PushReport
}

extension ImageStore {
    /// `strata push IMAGE [REF]`: the stored image `source` to the registry `destination`
    /// (by default, the registry and name the image is tagged with, as `docker push`).
    /// Blobs the repository has are skipped, those another of its repositories has are
    /// mounted, the rest uploaded; the manifest goes last, so the tag never names an
    /// incomplete image. An index whose images are all in the store is pushed whole;
    /// otherwise only this platform's image is, as `skopeo copy` does without `--all`.
    public func push(_ source: String, to destination: RegistryReference, access: RegistryAccess? = nil,
                     chunkSize: Int64 = 0) throws(StrataError) -> PushedImage {
        let refName = try reference(source)
        let index: OCIIndex
        do { index = try OCIIndex(layout: store.root) } catch { throw .image(error) }
        guard let entry = index.entry(refName: refName) else { throw .imageNotFound(source) }
        let image = try storedImage(refName)
        var images = [image]
        var manifests: [RegistryPushJob.Manifest] = []
        if entry.digest != image.manifestDigest, let whole = try completeIndex(entry) {
            images = whole
            manifests = whole.map { RegistryPushJob.Manifest(digest: $0.manifestDigest, mediaType: $0.manifest.mediaType, path: store.blobPath($0.manifestDigest)) }
            manifests.append(RegistryPushJob.Manifest(digest: entry.digest, mediaType: entry.mediaType, path: store.blobPath(entry.digest)))
        } else {
            if entry.digest != image.manifestDigest {
                context.note("\(refName) is an index with images of other platforms that are not in the store; pushing the \(Platform.current) image alone")
            }
            manifests = [RegistryPushJob.Manifest(digest: image.manifestDigest, mediaType: image.manifest.mediaType, path: store.blobPath(image.manifestDigest))]
        }
        let access = access ?? RegistryAccess(context: context)
        let target = try access.pushSource(for: destination)
        let sources = RegistryBlobSources(store: store)
        var blobs: [RegistryPushJob.Blob] = []
        for image in images {
            for (digest, size) in [(image.config.digest, image.config.size)] + image.layers.map({ ($0.digest, $0.size) }) {
                guard store.hasBlob(digest) else {
                    throw .input(path: store.blobPath(digest), reason: "blob \(digest.short) of \(refName) is not in the store, so it cannot be pushed; pull or build the image again")
                }
                blobs.append(RegistryPushJob.Blob(digest: digest, size: size, path: store.blobPath(digest),
                                                  mountFrom: sources.mountSources(of: digest, on: target.host)))
            }
        }
        let job = RegistryPushJob(endpoint: try access.endpoint(target, for: destination), repository: destination.repository,
                                  tag: destination.digest == nil ? destination.tag : nil, blobs: blobs, manifests: manifests,
                                  chunkSize: chunkSize)
        if let digest = destination.digest, digest != manifests[manifests.count - 1].digest {
            throw .usage("\(destination.familiar) names the digest \(digest.short), but \(refName) is \(manifests[manifests.count - 1].digest.short); push to a tag, or to the image's own digest")
        }
        let client = FetchClient(mirrors: [], tool: context.fetchTool ?? FetchClient.toolBesideThisExecutable(), progress: context.progress)
        var report: PushReport?
        do {
            if case .pushed(let said) = try client.registry(.push(job), progress: true) { report = said }
        } catch { throw .fetch(error) }
        sources.record(blobs.map(\.digest), in: target.host + "/" + destination.repository)
        return PushedImage(reference: destination.familiar, digest: manifests[manifests.count - 1].digest,
                           report: report ?? PushReport(present: 0, mounted: 0, uploaded: 0))
    }

    /// Every image of the index `entry` names, when each one's blobs are all in the store; nil otherwise.
    func completeIndex(_ entry: OCIIndexEntry) throws(StrataError) -> [OCIImage]? {
        let bytes: [UInt8]
        do { bytes = try HostFile.read(store.blobPath(entry.digest), limit: 4 << 20) } catch {
            throw .input(path: store.blobPath(entry.digest), reason: error.reason)
        }
        guard case .array(let children)? = (try? JSON.parse(bytes))?["manifests"] else { return nil }
        var images: [OCIImage] = []
        for child in children {
            guard let text = child["digest"]?.stringValue, let digest = try? Digest(parsing: text), store.hasBlob(digest),
                  let image = try? OCILayout.image(layout: store.root, manifest: digest),
                  store.hasBlob(image.config.digest), image.layers.allSatisfy({ store.hasBlob($0.digest) }) else { return nil }
            images.append(image)
        }
        return images.isEmpty ? nil : images
    }
}

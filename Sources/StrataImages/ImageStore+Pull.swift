import StrataEnvironment
import StrataFetchClient
import StrataModel
import StrataOCI
import StrataOS
import StrataRegistry
import StrataStore

/// What a pull resolved to and stored.
public struct PulledImage: Sendable, Equatable {
    /// The name it is tagged as (`debian:bookworm`, `localhost:5000/app@sha256:…` for a digest).
    public var name: String
    /// What the reference named: an index's digest, for a multi-platform image.
    public var digest: Digest
    /// This platform's image manifest (the same as `digest` unless an index was pulled).
    public var manifest: OCIImage
    /// The repository that served it, as `HOST/REPO` (a mirror's host when a mirror did).
    public var source: String
    /// Blobs downloaded now, and their bytes (the rest the store had).
    public var downloaded: Int
    public var downloadedBytes: Int64
}

extension ImageStore {
    /// `strata pull REF`: the image `reference` names (for an index, this machine's
    /// platform's), fetched by `strata-fetch` into a staging layout, every blob verified
    /// while it arrives, then stored and tagged as Docker names it (`debian:bookworm`,
    /// `localhost:5000/app:1`; `NAME@sha256:…` for a digest). Blobs the store has are not
    /// fetched again; nothing is stored or tagged unless the whole image arrived. Docker
    /// Hub names try the configured mirrors first (see `RegistryAccess`).
    public func pull(_ reference: RegistryReference, access: RegistryAccess? = nil) throws(StrataError) -> PulledImage {
        let name: String
        if let digest = reference.digest {
            name = reference.familiarName + "@" + digest.description
        } else {
            do { name = try ImageReference(parsing: reference.familiarName + ":" + (reference.tag ?? ImageReference.defaultTag)).description } catch {
                throw .usage(error.description)
            }
        }
        let pulled = try fetch(reference, access: access ?? RegistryAccess(context: context), layers: true)
        try updateIndex { (index) throws(StrataError) in
            index.setTag(name, manifest: pulled.digest, size: pulled.size, mediaType: pulled.mediaType)
        }
        return PulledImage(name: name, digest: pulled.digest, manifest: pulled.image, source: pulled.source,
                           downloaded: pulled.downloaded, downloadedBytes: pulled.downloadedBytes)
    }

    /// A pinned registry base's image, by its manifest digest, into the store (untagged):
    /// what `strata build` pulls for a lockfile.
    public func fetchPinned(_ reference: RegistryReference) throws(StrataError) -> OCIImage {
        try fetch(reference, access: RegistryAccess(context: context), layers: true).image
    }

    /// What `strata lock` pins for a registry base: the manifests and config of `reference`
    /// (its tag resolved at the registry now), no layers.
    public func resolveRemote(_ reference: RegistryReference, access: RegistryAccess? = nil) throws(StrataError) -> PulledImage {
        let pulled = try fetch(reference, access: access ?? RegistryAccess(context: context), layers: false)
        return PulledImage(name: reference.familiar, digest: pulled.digest, manifest: pulled.image, source: pulled.source,
                           downloaded: pulled.downloaded, downloadedBytes: pulled.downloadedBytes)
    }

    struct Fetched {
        var digest: Digest
        var size: Int64
        var mediaType: String
        var image: OCIImage
        var source: String
        var downloaded: Int
        var downloadedBytes: Int64
    }

    /// Pulls into a staging layout from each source in turn (mirrors first), verifies it,
    /// and moves its blobs into the store. The registry's own error is the one told.
    func fetch(_ reference: RegistryReference, access: RegistryAccess, layers: Bool) throws(StrataError) -> Fetched {
        let sources = try access.pullSources(for: reference)
        var failures: [String] = []
        for (index, source) in sources.enumerated() {
            do throws(StrataError) {
                return try fetch(reference, from: source, access: access, layers: layers)
            } catch {
                guard index < sources.count - 1 else {
                    if failures.isEmpty { throw error }
                    throw .fetch(FetchFailure(path: reference.familiar, message: error.description + " (mirrors: " + failures.joined(separator: "; ") + ")"))
                }
                failures.append(source.host + ": " + error.description)
            }
        }
        throw .usage("no registry to pull \(reference.familiar) from")
    }

    func fetch(_ reference: RegistryReference, from source: RegistryAccess.Source, access: RegistryAccess,
               layers: Bool) throws(StrataError) -> Fetched {
        let staging = store.temporaryPath("pull")
        do { try store.makeTemporaryDirectory(staging) } catch { throw .store(error) }
        defer { removeStaging(staging) }
        let endpoint = try access.endpoint(source, for: reference)
        let present: [Digest]
        do {
            present = try Directory.names(store.root + "/blobs/sha256").compactMap { try? Digest(parsing: "sha256:" + $0) }
        } catch { throw .input(path: store.root + "/blobs/sha256", reason: error.reason) }
        let job = RegistryPullJob(endpoint: endpoint, repository: reference.repository, reference: reference.manifestReference,
                                  os: Platform.current.os, architecture: Platform.current.architecture, staging: staging,
                                  present: present, manifestsOnly: !layers)
        let client = FetchClient(mirrors: [], tool: context.fetchTool ?? FetchClient.toolBesideThisExecutable(), progress: context.progress)
        var downloaded: [FetchedFile] = []
        do {
            if case .fetched(let files) = try client.registry(.pull(job), progress: true) { downloaded = files }
        } catch { throw .fetch(error) }
        // Blobs the store had stand in for those the tool skipped, so the layout reads whole.
        let top: OCIDescriptor
        let image: OCIImage
        let blobs: [String]
        do {
            blobs = try Directory.names(staging + "/blobs/sha256")
        } catch { throw .input(path: staging, reason: error.reason) }
        for hex in blobs {
            guard let digest = try? Digest(parsing: "sha256:" + hex) else { continue }
            do { try store.publishBlob(temporaryFile: OCILayout.blobPath(staging, digest), trusting: digest) } catch { throw .store(error) }
        }
        do {
            top = try OCILayout.onlyManifest(layout: staging)
            // Now read from the store, where every blob of the image is: manifest and config
            // checked against their digests, the layers as the config lists them.
            image = try OCILayout.resolve(top, in: store.root)
        } catch { throw .image(error) }
        if layers {
            for layer in image.layers where !store.hasBlob(layer.digest) {
                throw .input(path: store.blobPath(layer.digest), reason: "layer \(layer.digest.short) of \(reference.familiar) did not arrive; pull again")
            }
        }
        let repository = source.host + "/" + reference.repository
        RegistryBlobSources(store: store).record([image.config.digest] + image.layers.map(\.digest), in: repository)
        return Fetched(digest: top.digest, size: top.size, mediaType: top.mediaType, image: image, source: repository,
                       downloaded: downloaded.count, downloadedBytes: downloaded.map(\.size).reduce(0, +))
    }
}

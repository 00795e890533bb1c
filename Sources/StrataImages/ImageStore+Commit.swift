import Glibc
import StrataArchive
import StrataModel
import StrataOS
import StrataOCI
import StrataEnvironment
import StrataStore

/// How layer blobs are stored: as tars (what the store keeps by default), or compressed.
public enum ImageCompression: String, Sendable, CaseIterable {
    case none, gzip, zstd

    var compressor: LayerCompressor.Compression? {
        switch self {
        case .none: nil
        case .gzip: .gzip
        case .zstd: .zstd
        }
    }
}

/// What `strata commit` makes of a session.
public struct CommitOptions: Sendable {
    public var reference: ImageReference
    public var message: String?
    public var author: String?
    /// Dockerfile instructions (`ENV K=V`, `CMD [...]`, …) applied to the config.
    public var changes: [String]
    public var compression: ImageCompression
    /// SOURCE_DATE_EPOCH: the image's times, and the ceiling of every file's mtime.
    public var sourceDateEpoch: Int64?

    public init(reference: ImageReference, message: String? = nil, author: String? = nil, changes: [String] = [],
                compression: ImageCompression = .none, sourceDateEpoch: Int64? = nil) {
        self.reference = reference; self.message = message; self.author = author; self.changes = changes
        self.compression = compression; self.sourceDateEpoch = sourceDateEpoch
    }
}

/// What a commit made.
public struct CommitResult: Sendable, Equatable {
    /// The image manifest's digest: the image's id in the store.
    public var manifest: Digest
    /// Layers of the image, the session's included.
    public var layers: Int
    /// How many of the snapshot's layers went into the one merged bottom layer (0: none merged).
    public var merged: Int
}

extension ImageStore {
    /// containerd and many registries refuse images with more layers than this (128 at
    /// most, often fewer); 40 leaves room for images built on top of ours.
    static let maximumImageLayers = 40

    /// Turns a session into an image in the store and tags it: the snapshot's layers
    /// (merged below `maximumImageLayers`), the session's upper dir as the top layer,
    /// a config from the session's manifest and `options.changes`, a manifest, a tag.
    ///
    /// Deterministic: with `sourceDateEpoch` set, the same change on the same snapshot
    /// gives the same manifest digest. A running session can be committed (as with
    /// `buildah commit`); what it writes meanwhile may or may not be in the layer.
    public func commit(session idOrName: String, options: CommitOptions) throws(StrataError) -> CommitResult {
        var changes: [ImageChange] = []
        for text in options.changes { changes.append(try ImageChange(parsing: text)) }
        let session: SessionRecord
        do throws(StoreError) {
            guard let found = try store.session(named: idOrName) else { throw StoreError.noSuchSession(idOrName) }
            session = found
        } catch { throw .store(error) }

        let environment = try committedEnvironment(session)
        var runtime = imageRuntime(environment)
        ImageChange.apply(changes, to: &runtime)

        let created = ImageDocuments.timestamp(options.sourceDateEpoch ?? context.now())
        var layers: [ImageLayer] = []
        var history: [ImageHistoryEntry] = []
        let stack = try imageStack(session.snapshot, lockfile: environment?.lockfile)
        for part in stack {
            layers.append(try imageLayer(of: store.layerPath(part.key), cacheKey: part.key, options))
            history.append(ImageHistoryEntry(created: created, createdBy: part.createdBy))
        }
        layers.append(try imageLayer(of: session.upperPath, cacheKey: nil, options))
        history.append(ImageHistoryEntry(
            // Not the session's name: the same change made in two sessions is the same image.
            created: created, createdBy: "strata commit" + (changes.isEmpty ? "" : " " + options.changes.joined(separator: "; ")),
            comment: options.message, author: options.author))

        let documents = ImageDocuments(
            architecture: Platform.current.architecture, created: created, author: options.author, runtime: runtime,
            layers: layers, history: history)
        let manifest = try publish(documents, as: options.reference)
        let merged = stack.first?.merged ?? 0
        if !session.volumes.isEmpty {
            context.note("the image leaves out what the session kept in volumes (as docker commit does): \(session.volumes.joined(separator: ", "))")
        }
        return CommitResult(manifest: manifest, layers: layers.count, merged: merged)
    }

    /// The session's manifest and lockfile: they give the image its env, workdir, user and
    /// command. A manifest or lockfile that is gone or cannot be read stops the commit (an
    /// image with a guessed config is worse than none); a session recorded without a
    /// manifest (made before sessions kept theirs) gets strata's defaults, and is told so.
    func committedEnvironment(_ session: SessionRecord) throws(StrataError) -> (environment: LoadedEnvironment, lockfile: Lockfile?)? {
        let name = session.name ?? session.id
        guard let path = session.manifest else {
            context.note("session \(name) records no manifest (an older strata made it); the image gets strata's default env and command")
            return nil
        }
        guard HostFile.exists(path) else {
            throw .input(path: path, reason: "the manifest session \"\(name)\" was made from is gone; restore it to commit the session (the image's env, workdir and command come from it)")
        }
        let environment = try LoadedEnvironment(paths: EnvironmentPaths(argument: path, currentDirectory: context.workingDirectory))
        guard let lockfile = try environment.paths.readLockfile() else {
            throw .input(path: environment.paths.lockfile, reason: "the lockfile of session \"\(name)\" is gone; restore it to commit the session (the base image's config comes from it)")
        }
        // A lockfile re-locked since the session started may pin another base: its image
        // config would not describe this snapshot, and the one that did is not known any more.
        guard store.builtSnapshot(of: lockfile) == session.snapshot else {
            context.note("the lockfile of session \(name) was re-locked since it started; the image takes env, workdir and command from the manifest only, not from the base image's config")
            return (environment, nil)
        }
        return (environment, lockfile)
    }

    /// The image config a session of `environment` runs with: the manifest's settings over
    /// the base image's, as `sessionSpec` applies them (without the per-session HOSTNAME/TERM).
    func imageRuntime(_ loaded: (environment: LoadedEnvironment, lockfile: Lockfile?)?) -> ImageRuntimeConfig {
        var runtime = ImageRuntimeConfig()
        var defaults = ImageDefaults()
        if case .image(_, _, let config, _)? = loaded?.lockfile?.base { defaults = config }
        let manifest = loaded?.environment.manifest
        runtime.env = EnvironmentVariables(image: defaults.env, manifest: manifest?.env ?? [:]).entries
        runtime.workingDir = manifest?.workdir ?? defaults.workingDir
        runtime.user = manifest?.user ?? defaults.user
        runtime.labels = defaults.labels.merging(manifest?.labels ?? [:]) { $1 }
        if defaults.entrypoint != nil || defaults.cmd != nil {
            runtime.entrypoint = defaults.entrypoint
            runtime.cmd = defaults.cmd
        } else {
            runtime.cmd = manifest?.shell ?? ["/bin/sh"]
        }
        return runtime
    }

    /// The layers under the session's, as the image will carry them: every layer of the
    /// snapshot, or, above `maximumImageLayers - 1`, the bottom ones merged into one
    /// (a flattened layer, published once and cached like any other).
    func imageStack(_ snapshot: Digest, lockfile: Lockfile?) throws(StrataError) -> [(key: Digest, createdBy: String, merged: Int)] {
        let diffIDs: [Digest]
        do { diffIDs = try store.snapshotLayers(snapshot) } catch { throw .store(error) }
        var described: [Digest: String] = [:]
        if let lockfile {
            // The snapshot holds the Debian base's layers, then one per locked step, in order.
            var offset = 0
            if case .debian(let debian) = lockfile.base { offset = debian.layerKeys.count }
            for (index, step) in lockfile.steps.enumerated() where offset + index < diffIDs.count {
                let key = diffIDs[offset + index]
                switch step {
                case .run(let run): described[key] = "strata: run " + run.command.argv.joined(separator: " ")
                case .layer(let layer):
                    switch layer.source {
                    case .image(let reference): described[key] = "strata: layer of \(reference)"
                    case .copy(let from, let to): described[key] = "strata: copy \(from) \(to)"
                    case .tar(let path): described[key] = "strata: tar \(path)"
                    }
                }
            }
        }
        func describe(_ key: Digest) -> String { described[key] ?? "strata: layer \(key)" }
        let keep = Self.maximumImageLayers - 2
        guard diffIDs.count > Self.maximumImageLayers - 1 else {
            return diffIDs.map { ($0, describe($0), 0) }
        }
        let bottom = Array(diffIDs[..<(diffIDs.count - keep)])
        let flat: Digest
        do { flat = try store.publishFlattened(bottom) } catch { throw .store(error) }
        let merged = (key: flat, createdBy: "strata: \(bottom.count) layers merged (\(bottom[0]) … \(bottom[bottom.count - 1]))", merged: bottom.count)
        return [merged] + diffIDs[(diffIDs.count - keep)...].map { ($0, describe($0), 0) }
    }

    /// The blob of one image layer: the tree at `directory` (an overlay layer or upper dir)
    /// as a deterministic OCI layer tar, compressed as asked. Store layers never change, so
    /// their blobs are remembered by `cacheKey` and made once.
    func imageLayer(of directory: String, cacheKey: Digest?, _ options: CommitOptions) throws(StrataError) -> ImageLayer {
        let cache = LayerBlobCache(store: store)
        let variant = "\(options.compression.rawValue)-" + (options.sourceDateEpoch.map { String($0) } ?? "now")
        if let cacheKey {
            // A layer unpacked from an image's blob is that blob (whatever its compression): reusing
            // it keeps the base image's digests, so registries and other stores share it.
            for candidate in [LayerBlobCache.originalVariant, variant] {
                if let layer = cache.lookup(cacheKey, variant: candidate), store.hasBlob(layer.digest) { return layer }
            }
        }
        let tar = store.temporaryPath("commit-layer.tar")
        defer { unlink(tar) }
        let diffID: Digest
        do { diffID = try TreeArchiver.archive(source: directory, target: "/", to: tar, options: .sessionChange(epoch: options.sourceDateEpoch)) } catch {
            throw .archive(path: directory, error)
        }
        let layer: ImageLayer
        if let compressor = options.compression.compressor {
            let blob = store.temporaryPath("commit-layer." + compressor.rawValue)
            defer { unlink(blob) }
            let compressed: (digest: Digest, size: Int64)
            do { compressed = try LayerCompressor.compress(tar, to: blob, with: compressor) } catch { throw .archive(path: tar, error) }
            do { try store.publishBlob(temporaryFile: blob, trusting: compressed.digest) } catch { throw .store(error) }
            layer = ImageLayer(mediaType: compressor.mediaType, digest: compressed.digest, size: compressed.size, diffID: diffID)
        } else {
            let size: Int64
            do { size = try store.publishBlob(temporaryFile: tar, trusting: diffID) } catch { throw .store(error) }
            layer = ImageLayer(mediaType: LayerBlobCache.tarMediaType, digest: diffID, size: size, diffID: diffID)
        }
        if let cacheKey { cache.record(cacheKey, variant: variant, layer) }
        return layer
    }
}

import StrataArchive
import StrataEnvironment
import StrataImages
import StrataModel
import StrataOCI
import StrataStore

/// What `strata build` did.
public struct BuildResult: Sendable, Equatable {
    /// The chain id of the environment's layers.
    public var snapshot: Digest
    /// Layers this build unpacked (0 when everything was cached).
    public var unpackedLayers: Int
    public var warnings: [String]
}

/// Lockfile → layers: fetches exactly the pinned bytes, verifies them, unpacks each into
/// its content-addressed layer and records the snapshot they stack into.
///
/// Every layer that exists is left untouched, so environments that share inputs share
/// layers and a second build does nothing. Layers appear only complete (the store's
/// rules); a cancelled request stops between layers, keeping the ones it finished.
public struct Builder: Sendable {
    public let store: Store
    public let context: RequestContext
    /// Debian mirrors the request names before every other source of them (`--mirror`).
    public var mirrors: [String]

    public init(store: Store, context: RequestContext, mirrors: [String] = []) {
        self.store = store; self.context = context; self.mirrors = mirrors
    }

    /// Fetches, verifies and unpacks every layer the lockfile pins that the store
    /// lacks, then records the snapshot. Cached layers are not touched.
    public func build(_ environment: LoadedEnvironment, lockfile: Lockfile) throws(StrataError) -> BuildResult {
        let snapshotID = lockfile.snapshotID
        if store.hasSnapshot(snapshotID) {
            return BuildResult(snapshot: snapshotID, unpackedLayers: 0, warnings: [])
        }
        var unpacked = 0
        var warnings: [String] = []
        if case .debian(let debian) = lockfile.base {
            (unpacked, warnings) = try buildDebian(debian, environment: environment)
            try context.cancellation.check()
            do { try store.publishFlattened(debian.layerKeys) } catch { throw .store(error) }
        }
        for layer in lockfile.layers {
            try context.cancellation.check()
            if store.hasLayer(layer.diffID) { continue }
            if !store.hasBlob(layer.digest) { try fetch(layer, environment: environment) }
            do {
                let outcome = try store.publishLayer(diffID: layer.diffID, fromBlob: layer.digest)
                if outcome.unpacked { unpacked += 1 }
                LayerBlobCache(store: store).recordOriginal(
                    layer.diffID, blob: layer.digest, size: layer.size, at: store.blobPath(layer.digest))
                warnings += outcome.warnings
            } catch { throw .store(error) }
        }
        let keys = LayerKeys.snapshot(of: lockfile)
        do {
            if keys == [LayerKeys.emptyLayer] { try store.emptyLayer() }
            let snapshot = try store.publishSnapshot(diffIDs: keys)
            return BuildResult(snapshot: snapshot, unpackedLayers: unpacked, warnings: warnings)
        } catch { throw .store(error) }
    }

    /// Brings the exact pinned bytes of `layer` into the store, verified.
    func fetch(_ layer: LockedLayer, environment: LoadedEnvironment) throws(StrataError) {
        let paths = environment.paths
        switch layer.source {
        case .image:
            if case .image(let reference) = environment.manifest.base {
                // A store image's layers are the store's own blobs: one that is gone cannot be fetched.
                throw .input(path: store.blobPath(layer.digest),
                             reason: "layer \(layer.digest.short) of image \(reference) is missing from the store; import or commit the image again, then `strata lock`")
            }
            guard case .ociLayout(let directory, _) = environment.manifest.base else {
                throw .staleLock(lockfile: paths.lockfile, reason: "it pins an image layer but the manifest has no image")
            }
            let source = OCILayout.blobPath(paths.resolve(directory), layer.digest)
            do { try store.ingestBlob(copying: source, expected: layer.digest, size: layer.size) } catch { throw .store(error) }
        case .tar(let path):
            do { try store.ingestBlob(copying: paths.resolve(path), expected: layer.digest, size: layer.size) } catch {
                throw .store(error)
            }
        case .copy(let from, let to):
            let temporary = store.temporaryPath("copy")
            do { _ = try TreeArchiver.archive(source: paths.resolve(from), target: to, to: temporary) } catch {
                throw .archive(path: paths.resolve(from), error)
            }
            do { _ = try store.publishBlob(temporaryFile: temporary, expected: layer.digest) } catch { throw .store(error) }
        }
    }
}

import Glibc
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
    /// `run` steps whose command ran, and those whose layer was already in the store.
    public var stepsRun = 0
    public var stepsCached = 0
}

/// How `strata build` builds.
public struct BuildOptions: Sendable, Equatable {
    /// Run every `run` step again, whatever the store has for it, and record what it makes
    /// (`--no-cache`; pinned layers are verified bytes and are still shared).
    public var noCache: Bool

    public init(noCache: Bool = false) { self.noCache = noCache }
}

/// Lockfile → layers: fetches exactly the pinned bytes, verifies them, unpacks each into
/// its content-addressed layer, runs the `run` steps on the layers below them, and records
/// the snapshot they stack into.
///
/// Every layer that exists is left untouched, so environments that share inputs share
/// layers and a second build does nothing. A `run` step is keyed by what it runs on and
/// what it does (`LayerKeys.runStep`); one whose key the store has is not run. Layers
/// appear only complete (the store's rules); a cancelled request stops between layers,
/// keeping the ones it finished.
public struct Builder: Sendable {
    public let store: Store
    public let context: RequestContext
    /// Debian mirrors the request names before every other source of them (`--mirror`).
    public var mirrors: [String]

    public init(store: Store, context: RequestContext, mirrors: [String] = []) {
        self.store = store; self.context = context; self.mirrors = mirrors
    }

    /// Fetches, verifies and unpacks every layer the lockfile pins that the store
    /// lacks, runs the `run` steps the store has no layer for, then records the snapshot.
    /// Cached layers are not touched.
    public func build(_ environment: LoadedEnvironment, lockfile: Lockfile,
                      options: BuildOptions = BuildOptions()) throws(StrataError) -> BuildResult {
        let started = Self.monotonicSeconds()
        if !options.noCache || lockfile.snapshotID != nil, let built = store.builtSnapshot(of: lockfile) {
            let cached = lockfile.steps.filter { if case .run = $0 { true } else { false } }.count
            try recordRoot(environment, lockfile, snapshot: built)
            return BuildResult(snapshot: built, unpackedLayers: 0, warnings: [], stepsCached: cached)
        }
        var result = BuildResult(snapshot: LayerKeys.emptyLayer, unpackedLayers: 0, warnings: [])
        var keys: [Digest] = []
        if case .debian(let debian) = lockfile.base {
            (result.unpackedLayers, result.warnings) = try buildDebian(debian, environment: environment)
            try context.cancellation.check()
            do { try store.publishFlattened(debian.layerKeys) } catch { throw .store(error) }
            keys = debian.layerKeys
        }
        try pullPinnedBase(lockfile)
        var stepNumber = 0
        let stepTotal = environment.manifest.steps.count
        for step in lockfile.steps {
            try context.cancellation.check()
            var name: BuildStepName?
            if step.isManifestStep {
                stepNumber += 1
                name = BuildStepName(number: stepNumber, total: stepTotal, summary: step.summary)
            }
            switch step {
            case .layer(let layer):
                let began = Self.monotonicSeconds()
                let made = try publish(layer, environment: environment, result: &result)
                if let name { context.events(made ? .done(name, seconds: Self.monotonicSeconds() - began) : .cached(name)) }
                keys.append(layer.diffID)
            case .run(let run):
                let below = keys.isEmpty ? [LayerKeys.emptyLayer] : keys
                if keys.isEmpty { do { try store.emptyLayer() } catch { throw .store(error) } }
                let stepName = name ?? BuildStepName(number: 0, total: stepTotal, summary: step.summary)
                let (layer, ran) = try runStep(run, name: stepName, below: below, environment: environment,
                                               lockfile: lockfile, options: options)
                if ran { result.stepsRun += 1 } else { result.stepsCached += 1 }
                keys.append(layer)
            }
        }
        if keys.isEmpty { keys = [LayerKeys.emptyLayer] }
        do {
            if keys == [LayerKeys.emptyLayer] { try store.emptyLayer() }
            result.snapshot = try store.publishSnapshot(diffIDs: keys)
            try store.recordBuild(of: lockfile, snapshot: result.snapshot)
        } catch { throw .store(error) }
        try recordRoot(environment, lockfile, snapshot: result.snapshot)
        context.events(.finished(ran: result.stepsRun, cached: result.stepsCached, seconds: Self.monotonicSeconds() - started))
        return result
    }

    /// Keeps what the lockfile pins from gc for as long as the file at its path pins it.
    func recordRoot(_ environment: LoadedEnvironment, _ lockfile: Lockfile, snapshot: Digest) throws(StrataError) {
        do { try store.recordBuildRoot(path: environment.paths.lockfile, snapshot: snapshot) { lockfile.digest } } catch {
            throw .store(error)
        }
    }

    /// Brings one pinned layer into the store unless it is there; true when it was made now.
    func publish(_ layer: LockedLayer, environment: LoadedEnvironment, result: inout BuildResult) throws(StrataError) -> Bool {
        if store.hasLayer(layer.diffID) { return false }
        if !store.hasBlob(layer.digest) { try fetch(layer, environment: environment) }
        do {
            let outcome = try store.publishLayer(diffID: layer.diffID, fromBlob: layer.digest)
            if outcome.unpacked { result.unpackedLayers += 1 }
            LayerBlobCache(store: store).recordOriginal(
                layer.diffID, blob: layer.digest, size: layer.size, at: store.blobPath(layer.digest))
            result.warnings += outcome.warnings
            return outcome.unpacked
        } catch { throw .store(error) }
    }

    /// Seconds on a clock that only moves forward, for how long a step took.
    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// A registry base whose layers the store lacks is pulled by the digest the lockfile
    /// pins (never by its tag), all missing blobs in one pull.
    func pullPinnedBase(_ lockfile: Lockfile, evenWithLayers: Bool = false) throws(StrataError) {
        guard case .image(let reference, let manifest, _, let pin?) = lockfile.base else { return }
        let missing = lockfile.steps.contains {
            guard case .layer(let layer) = $0, case .image = layer.source else { return false }
            return (evenWithLayers || !store.hasLayer(layer.diffID)) && !store.hasBlob(layer.digest)
        }
        guard missing else { return }
        let host = String(pin.repository.prefix { $0 != "/" })
        let remote = RegistryReference(host: host, repository: String(pin.repository.dropFirst(host.count + 1)), tag: nil, digest: manifest)
        let name = BuildStepName(number: 0, total: 0, summary: "pull \(reference)@\(manifest.short)")
        let began = Self.monotonicSeconds()
        context.events(.started(name))
        _ = try ImageStore(store: store, context: context).fetchPinned(remote)
        context.events(.done(name, seconds: Self.monotonicSeconds() - began))
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

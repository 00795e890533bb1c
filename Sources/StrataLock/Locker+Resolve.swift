import Glibc
import StrataOS
import StrataArchive
import StrataModel
import StrataOCI
import StrataEnvironment
import StrataImages
import StrataStore

/// One resolution of a manifest into a lockfile: every input pinned by digest.
///
/// Resolving is a pure function of the inputs' bytes: the same manifest and
/// inputs give an equal `Lockfile` (and so identical bytes). Copied trees are
/// archived into the store while their digest is taken, so a later build finds
/// their blobs already there.
struct ManifestResolver {
    let store: Store
    let context: RequestContext
    /// Debian mirrors the request names first (`--mirror`; see `DebianMirrors`).
    var mirrors: [String]
    /// The lockfile on disk, whose Debian packages stay pinned unless asked to move.
    var previous: Lockfile?
    var update: DebianUpdate?
    /// Refuse to ask a Debian archive (a frozen lockfile must not change).
    var frozen = false
    var cache: InputCache { InputCache(store: store, now: context.now) }

    func resolve(_ environment: LoadedEnvironment) throws(StrataError) -> Lockfile {
        let paths = environment.paths
        var layers: [LockedStep] = []
        var base = LockedBase.scratch
        if case .debian(let source) = environment.manifest.base {
            base = .debian(try lockDebian(environment, source))
        }
        var image: OCIImage?
        if case .ociLayout(let directory, let tag) = environment.manifest.base {
            image = try resolveImage(layout: paths.resolve(directory), tag: tag)
        }
        var pin: RegistryPin?
        if case .image(let reference) = environment.manifest.base {
            if let kept = keptRegistryBase(reference) {
                return Lockfile(manifestDigest: environment.manifestDigest, platform: .current, base: kept.base,
                                steps: kept.layers + (try manifestSteps(environment)), parent: try lockedParent(environment))
            }
            (image, pin) = try resolveStoreOrRegistry(reference, environment: environment)
        }
        if let image {
            let reference = environment.manifest.base.reference
            base = .image(reference: reference, manifestDigest: image.manifestDigest, config: image.defaults, registry: pin)
            for (layer, diffID) in zip(image.layers, image.diffIDs) {
                layers.append(.layer(LockedLayer(source: .image(reference: reference), digest: layer.digest, diffID: diffID, size: layer.size)))
            }
        }
        layers += try manifestSteps(environment)
        return Lockfile(manifestDigest: environment.manifestDigest, platform: .current, base: base, steps: layers,
                        parent: try lockedParent(environment))
    }

    /// The steps of the manifest itself, pinned.
    func manifestSteps(_ environment: LoadedEnvironment) throws(StrataError) -> [LockedStep] {
        let paths = environment.paths
        var layers: [LockedStep] = []
        for step in environment.manifest.steps {
            switch step {
            case .copy(let from, let to):
                let (digest, size) = try archiveCopy(source: paths.resolve(from), target: to)
                layers.append(.layer(LockedLayer(source: .copy(from: from, to: to), digest: digest, diffID: digest, size: size)))
            case .tar(let path):
                let (digest, diffID, size) = try digestTarball(paths.resolve(path))
                layers.append(.layer(LockedLayer(source: .tar(path: path), digest: digest, diffID: diffID, size: size)))
            case .run(let run):
                layers.append(.run(run))
            }
        }
        return layers
    }

    /// The previous lock's registry base and its layers, when it pinned this same reference
    /// and nothing asks to move it: a tag is resolved once, at the first lock (or
    /// `--update`), never again on a build, as Debian packages stay at their locked versions.
    func keptRegistryBase(_ reference: ImageReference) -> (base: LockedBase, layers: [LockedStep])? {
        guard update != .all, let previous, case .image(let locked, _, _, _?) = previous.base, locked == reference.description else {
            return nil
        }
        let layers = previous.steps.filter {
            if case .layer(let layer) = $0, case .image = layer.source { return true }
            return false
        }
        return (previous.base, layers)
    }

    /// A name with a registry host (`localhost:5000/app:1`, `ghcr.io/team/app:2`) is pinned
    /// from that registry; one without is the store's image of that tag when there is one,
    /// else Docker Hub's (`debian:bookworm`), as `docker build` finds a `FROM`.
    func resolveStoreOrRegistry(_ reference: ImageReference, environment: LoadedEnvironment) throws(StrataError) -> (OCIImage, RegistryPin?) {
        let named = reference.name.split(separator: "/").first.map { $0.contains(".") || $0.contains(":") || $0 == "localhost" } ?? false
            && reference.name.contains("/")
        if !named {
            do { return (try OCILayout.resolve(layout: store.root, tag: reference.description), nil) } catch {
                guard case .tagNotFound = error else { throw .image(error) }
            }
        }
        if frozen {
            throw .staleLock(lockfile: environment.paths.lockfile, reason: "\(reference) is not pinned yet")
        }
        let remote: RegistryReference
        do { remote = try RegistryReference(parsing: reference.description) } catch { throw .usage(error.description) }
        let resolved: PulledImage
        do { resolved = try ImageStore(store: store, context: context).resolveRemote(remote) } catch {
            if named { throw error }
            throw .input(path: reference.description, reason: "there is no image \(reference) in the store, and pulling \(remote) failed: \(error)")
        }
        let index = resolved.digest == resolved.manifest.manifestDigest ? nil : resolved.digest
        return (resolved.manifest, RegistryPin(repository: remote.host + "/" + remote.repository, index: index))
    }

    /// The extended environment's lockfile, pinned by the digest of its bytes; it must exist
    /// (the locker locks it first).
    func lockedParent(_ environment: LoadedEnvironment) throws(StrataError) -> LockedParent? {
        guard let parent = environment.parent, let reference = environment.parentReference else { return nil }
        let bytes: [UInt8]
        do { bytes = try HostFile.read(parent.paths.lockfile, limit: 64 << 20) } catch {
            throw .staleLock(lockfile: parent.paths.lockfile, reason: "\(environment.paths.name) extends \(parent.paths.name), which has no lockfile yet (\(error.reason)); run `strata lock \(parent.paths.manifest)`")
        }
        return LockedParent(reference: reference, lockfile: Digest.sha256(of: bytes))
    }

    /// The previous lock's packages when the Debian inputs did not change and no update was
    /// asked for (no archive is contacted then); otherwise a new resolution that keeps the
    /// previous versions of everything not being updated, where the archive still has them.
    func lockDebian(_ environment: LoadedEnvironment, _ source: Manifest.DebianSource) throws(StrataError) -> LockedDebian {
        // Mirrors are looked up only when the archive is asked (not on every `strata run`).
        let context = self.context
        let mirrors = self.mirrors
        let locker = DebianLocker(store: store, environment: environment, source: source, context: context,
                                  mirrors: { DebianMirrors.list(source, override: mirrors, context: context) })
        var old: LockedDebian?
        if case .debian(let locked)? = previous?.base { old = locked }
        // A first lock of an environment that extends another keeps the parent's versions.
        if old == nil, let parent = environment.parent, case .debian(let locked)? = try? parent.paths.readLockfile()?.base {
            old = locked
        }
        if update == nil, let old, locker.stillMatches(old) { return old }
        if frozen {
            throw .staleLock(lockfile: environment.paths.lockfile,
                             reason: old == nil ? "there is no lockfile yet" : "the Debian packages of the manifest changed")
        }
        var pins = DebianLocker.Pins()
        if let old {
            let moving: Set<String>
            switch update {
            case nil: moving = []
            case .all: moving = Set(old.packages.map(\.name))
            case .packages(let names):
                let known = Set(old.packages.map(\.name))
                for name in names where !known.contains(name) {
                    throw .usage("\(name) is not among the locked packages of \(environment.paths.name); name a locked package, or use --update alone to update all")
                }
                moving = Set(names)
            }
            for package in old.packages where !moving.contains(package.name) { pins.keep[package.name] = package.version }
        }
        let (locked, dropped) = try locker.lock(pins: pins)
        for pin in dropped { context.note(pin.sentence) }
        return locked
    }

    func resolveImage(layout: String, tag: String?) throws(StrataError) -> OCIImage {
        do { return try OCILayout.resolve(layout: layout, tag: tag) } catch { throw .image(error) }
    }

    /// A tarball's file digest, diff id (its decompressed stream's digest) and size.
    func digestTarball(_ file: String) throws(StrataError) -> (Digest, Digest, Int64) {
        var info = stat()
        guard stat(file, &info) == 0 else {
            throw .input(path: file, reason: "cannot read the tarball of a \"tar\" step: \(SystemError.text(errno))")
        }
        let key = InputCache.fileKey("tar", path: file, info)
        if let values = cache.lookup(key), values.count == 3, let digest = try? Digest(parsing: values[0]),
           let diffID = try? Digest(parsing: values[1]), let size = Int64(values[2]) {
            return (digest, diffID, size)
        }
        let pinned: (digest: Digest, size: Int64)
        do { pinned = try FileDigest.of(file) } catch {
            throw .input(path: file, reason: "cannot read the tarball of a \"tar\" step: \(error.reason)")
        }
        let diffID: Digest
        do { diffID = try TarDigest.diffID(ofArchiveAt: file) } catch { throw .archive(path: file, error) }
        cache.record(key, [pinned.digest.description, diffID.description, String(pinned.size)],
                     newestChange: Int(info.st_ctim.tv_sec))
        return (pinned.digest, diffID, pinned.size)
    }

    /// Archives a copied tree deterministically into the store; returns the blob's digest
    /// and size. A tree whose fingerprint is cached is not archived again.
    func archiveCopy(source: String, target: String) throws(StrataError) -> (Digest, Int64) {
        let fingerprint: (digest: Digest, newestChange: Int)
        do { fingerprint = try TreeArchiver.fingerprint(source: source, target: target) } catch {
            if case .unreadable(_, let reason) = error {
                throw .input(path: source, reason: "cannot copy it into the environment: \(reason)")
            }
            throw .archive(path: source, error)
        }
        let key = Digest.sha256(of: Array("copy \(source) \(target) \(fingerprint.digest)".utf8))
        if let values = cache.lookup(key), values.count == 2, let digest = try? Digest(parsing: values[0]),
           let size = Int64(values[1]) {
            return (digest, size)
        }
        let (digest, size) = try archiveTree(source: source, target: target)
        cache.record(key, [digest.description, String(size)], newestChange: fingerprint.newestChange)
        return (digest, size)
    }

    func archiveTree(source: String, target: String) throws(StrataError) -> (Digest, Int64) {
        let temporary = store.temporaryPath("copy")
        let digest: Digest
        do { digest = try TreeArchiver.archive(source: source, target: target, to: temporary) } catch {
            _ = unlink(temporary)
            if case .unreadable(_, let reason) = error {
                throw .input(path: source, reason: "cannot copy it into the environment: \(reason)")
            }
            throw .archive(path: source, error)
        }
        let size: Int64
        do { size = Int64(try FileSystem.status(temporary)?.st_size ?? 0) } catch {
            _ = unlink(temporary)
            throw .input(path: temporary, reason: error.reason)
        }
        if store.hasBlob(digest) {
            _ = unlink(temporary)
        } else {
            do { _ = try store.publishBlob(temporaryFile: temporary, expected: digest) } catch { throw .store(error) }
        }
        return (digest, size)
    }
}


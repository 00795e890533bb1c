import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataStore

/// How `strata gc` collects.
public struct CollectionOptions: Sendable, Equatable {
    /// Decide and report, remove nothing.
    public var dryRun: Bool
    /// Objects no root reaches that were published less than this many seconds ago are kept
    /// (`--keep-recent`): what a build that just finished left for the next one.
    public var keepRecent: Int64

    public init(dryRun: Bool = false, keepRecent: Int64 = 0) { self.dryRun = dryRun; self.keepRecent = keepRecent }
}

/// `strata gc`: removes every blob, layer, snapshot, cache entry and temporary that no root
/// reaches (`RootScanner`), holding the store's gc lock exclusively, so that no build, run
/// setup, pull or commit (each holding an `ObjectLease`) is in between.
///
/// Guarantees: what a root reaches is never touched; a layer leaves `layers/` by one rename
/// before its tree is removed, so a gc killed half-way leaves garbage in `tmp/`, never a
/// half-removed layer under its name; records go before what they name. The report lists the
/// same objects with and without `dryRun`.
public struct Collector: Sendable {
    public let store: Store
    public let context: RequestContext

    public init(store: Store, context: RequestContext) { self.store = store; self.context = context }

    public func collect(_ options: CollectionOptions = CollectionOptions()) throws(StrataError) -> CollectionReport {
        let (report, detached) = try store.whileCollecting(lockFailure: StrataError.store) {
            () throws(StrataError) -> (CollectionReport, [String]) in
            let scan = try RootScanner(store: store).scan()
            if let path = scan.unreadable.first {
                throw .input(path: path, reason: "an image document that cannot be read or parsed, so gc cannot tell what it keeps and removed nothing; run `strata fsck`, remove or repair that image, then gc again")
            }
            var plan = try garbage(scan, options)
            plan.measure()
            let detached = options.dryRun ? [] : try remove(plan.objects)
            return (CollectionReport(removed: plan.objects, dryRun: options.dryRun, notes: scan.notes, keptRecent: plan.keptRecent),
                    detached)
        }
        // Out of the store's names already; their trees go without holding builds and runs up.
        // A gc killed here leaves them to the next one (their owner, this process, is gone).
        for tree in detached {
            do throws(StoreError) { try store.discardTemporary(tree) } catch { throw .store(error) }
        }
        return report
    }

    /// What gc would remove, with what it frees.
    struct Plan {
        var objects: [CollectedObject] = []
        var keptRecent = 0

        mutating func add(_ kind: GarbageKind, _ name: String, _ path: String) {
            objects.append(CollectedObject(kind: kind, name: name, path: path, bytes: 0))
        }

        /// Bytes each object frees, hard links to what stays not counted.
        mutating func measure() {
            var tally = InodeTally()
            for (index, object) in objects.enumerated() {
                // An object that cannot be measured is still garbage: it just frees "0".
                try? FileSystem.walk(object.path) { info in
                    tally.add(info, owner: index)
                    return true
                }
            }
            for (index, bytes) in tally.freedBytes() { objects[index].bytes = bytes }
        }
    }

    func garbage(_ scan: RootScanner.Scan, _ options: CollectionOptions) throws(StrataError) -> Plan {
        let live = scan.live
        let now = context.now()
        var plan = Plan()
        func recent(_ path: String) -> Bool {
            guard options.keepRecent > 0, let info = try? FileSystem.status(path) else { return false }
            return now - Int64(info.st_ctim.tv_sec) < options.keepRecent
        }
        for manifest in scan.unusedContainerManifests { plan.add(.containerSettings, manifest, manifest) }
        for record in scan.goneLockfiles { plan.add(.buildRoot, record.path, store.buildRootPath(record.path)) }

        var kept = StoreObjects()
        do throws(StoreError) {
            for (kind, stored, reached, path) in [
                (GarbageKind.snapshot, try store.storedSnapshots(), live.snapshots, store.snapshotPath),
                (.layer, try store.storedLayers(), live.layers, store.layerPath),
                (.blob, try store.storedBlobs(), live.blobs, store.blobPath),
            ] as [(GarbageKind, [Digest], Set<Digest>, (Digest) -> String)] {
                for digest in stored {
                    if reached.contains(digest) {
                        kept.insert(digest, as: kind)
                    } else if recent(path(digest)) {
                        kept.insert(digest, as: kind)
                        plan.keptRecent += 1
                    } else {
                        plan.add(kind, digest.description, path(digest))
                    }
                }
            }
            for cache in StoreCache.allCases {
                for key in try store.cacheKeys(cache) where !keeps(cache, key, kept: kept, recent: recent) {
                    plan.add(.cacheEntry, cache.rawValue + "/" + key, store.cacheEntryPath(cache, key))
                }
            }
            for name in try store.temporaryNames() where store.isAbandonedTemporary(name) {
                plan.add(.temporary, name, store.temporaryDirectory + "/" + name)
            }
            for id in try store.lostSessions() { plan.add(.lostSession, id, store.sessionPath(id)) }
        } catch {
            throw .store(error)
        }
        plan.objects.sort { ($0.kind, $0.name) < ($1.kind, $1.name) }
        return plan
    }

    /// Whether a cache entry is still worth its space: what it points at stays. Entries
    /// that point at nothing in the store (local inputs' digests, seccomp programs) cost
    /// a few bytes each and save real work, so they stay.
    func keeps(_ cache: StoreCache, _ key: String, kept: StoreObjects, recent: (String) -> Bool) -> Bool {
        switch cache {
        case .inputs, .seccomp:
            return true
        case .debianIndexes:
            // A cache as apt's lists are (50 MB for bookworm main): the next re-lock fetches it again.
            return recent(store.cacheEntryPath(cache, key))
        case .registryBlobs:
            guard let blob = try? Digest(hex: key) else { return false }
            return kept.blobs.contains(blob)
        case .imageLayers, .runSteps, .builds:
            // The payload's first digest is what the entry points at: the blob, the layer, the snapshot.
            guard let payload = store.cached(cache, key, removingDamaged: false),
                  let named = Self.firstDigest(payload) else { return false }
            switch cache {
            case .imageLayers: return kept.blobs.contains(named)
            case .runSteps: return kept.layers.contains(named)
            default: return kept.snapshots.contains(named)
            }
        }
    }

    static func firstDigest(_ payload: [UInt8]) -> Digest? {
        for word in String(decoding: payload, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if let digest = try? Digest(parsing: String(word)) { return digest }
        }
        return nil
    }

    /// Removes the plan's objects in its order; a layer is only renamed out of `layers/` into
    /// `tmp/`, and the returned trees are for the caller to remove after the lock.
    func remove(_ objects: [CollectedObject]) throws(StrataError) -> [String] {
        var detached: [String] = []
        do throws(StoreError) {
            for object in objects {
                switch object.kind {
                case .containerSettings:
                    for path in [object.path, RootScanner.containerLockfile(object.path)] where unlink(path) != 0 && errno != ENOENT {
                        throw StoreError.io(path: path, reason: "unlink: " + SystemError.text(errno))
                    }
                case .buildRoot:
                    try store.removeBuildRoot(object.name)
                case .snapshot, .blob, .cacheEntry:
                    if unlink(object.path) != 0 && errno != ENOENT {
                        throw StoreError.io(path: object.path, reason: "unlink: " + SystemError.text(errno))
                    }
                case .layer:
                    guard let layer = try? Digest(parsing: object.name) else { continue }
                    if let tree = try store.detachLayer(layer) { detached.append(tree) }
                case .temporary:
                    // Nobody owns it (its process is gone): removed after the lock, as a layer is.
                    detached.append(object.path)
                case .lostSession:
                    try store.removeLostSession(object.name)
                }
            }
            // A seal whose layer is gone (a removal cut short between the two) goes too.
            for layer in try store.sealedLayers() where !store.hasLayer(layer) { try store.removeLayer(layer) }
            // Every layer ever built leaves a lock file; those of layers that are gone go too.
            for name in try store.lockNames() {
                if name.hasPrefix("layer-"), let layer = try? Digest(hex: String(name.dropFirst(6))), !store.hasLayer(layer) {
                    store.removeUnusedLock(name)
                }
            }
        } catch {
            throw .store(error)
        }
        return detached
    }
}

extension StoreObjects {
    mutating func insert(_ digest: Digest, as kind: GarbageKind) {
        switch kind {
        case .snapshot: snapshots.insert(digest)
        case .layer: layers.insert(digest)
        case .blob: blobs.insert(digest)
        default: break
        }
    }
}

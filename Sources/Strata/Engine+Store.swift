import StrataEnvironment
import StrataOS
import StrataGC
import StrataModel
import StrataStore

/// What `strata prune` removed.
public struct PruneReport: Sendable, Equatable {
    /// Sessions removed: stopped and unnamed, by id.
    public var sessions: [String]
    /// Manifests of the images `index.json` named without a tag.
    public var images: [Digest]
    /// Then gc, which removed what they stood on (and everything else no root reaches).
    public var collection: CollectionReport
}

extension Engine {
    public var collector: Collector { Collector(store: store, context: context) }

    /// Removes everything no root reaches (`strata gc`).
    public func gc(_ options: CollectionOptions = CollectionOptions()) throws(StrataError) -> CollectionReport {
        try collector.collect(options)
    }

    /// What the store takes on disk, by kind and by root (`strata system df`).
    public func diskUsage() throws(StrataError) -> DiskUsage {
        try DiskUsageMeter(store: store).measure()
    }

    /// `strata prune`, as `docker system prune`: stopped unnamed sessions (a named one is
    /// what someone chose to keep), images without a tag, then gc. Running sessions stay.
    public func prune() throws(StrataError) -> PruneReport {
        let all: [SessionRecord]
        do { all = try store.listSessions() } catch { throw .store(error) }
        var removed: [String] = []
        for session in all where session.name == nil && !store.isRunning(session) {
            do { try store.removeSession(session.id) } catch {
                // Started (or removed) since the listing: it is not a stopped session now.
                if case .sessionInUse = error { continue }
                if case .noSuchSession = error { continue }
                throw .store(error)
            }
            removed.append(session.id)
        }
        let images = try self.images.removeUntagged()
        return PruneReport(sessions: removed, images: images, collection: try gc())
    }
}

/// What `strata fsck --repair` did between finding problems and checking again.
public struct RepairReport: Sendable, Equatable {
    /// Where each corrupt object went (`quarantine/…`).
    public var quarantined: [String] = []
    /// Snapshot records dropped because a layer they name is gone (a build makes them again).
    public var droppedSnapshots = 0
    /// Layers published before seals were recorded, sealed as they are now.
    public var sealed = 0
    /// Lockfiles built again, which fetched and unpacked what was missing.
    public var rebuilt: [String] = []
    public var notes: [String] = []
}

extension Engine {
    /// Checks every object of the store (`strata fsck`).
    public func fsck() throws(StrataError) -> CheckReport {
        try StoreChecker(store: store).check()
    }

    /// `strata fsck --repair`: checks, moves what is corrupt to `quarantine/`, seals unsealed
    /// layers, builds every lockfile root again (which fetches a `.deb` from a mirror, a blob
    /// from its registry or project, and unpacks layers from their blobs), and checks again.
    /// All of it under gc's exclusive lock, so that no build or session start-up is in between.
    public func repair() throws(StrataError) -> (found: CheckReport, repair: RepairReport, after: CheckReport) {
        try store.whileCollecting(lockFailure: StrataError.store) { () throws(StrataError) -> (CheckReport, RepairReport, CheckReport) in
            let found = try StoreChecker(store: store).check()
            var repair = RepairReport()
            do throws(StoreError) { try quarantine(found, &repair) } catch { throw .store(error) }
            let roots: [BuildRoot]
            do throws(StoreError) { roots = try store.buildRoots() } catch { throw .store(error) }
            for root in roots where HostFile.exists(root.path) {
                guard let manifest = Self.manifestPath(ofLockfile: root.path), HostFile.exists(manifest) else {
                    repair.notes.append("cannot build \(root.path) again: its manifest is not at envs/NAME.json beside lockfiles/; run `strata build` with it")
                    continue
                }
                do throws(StrataError) {
                    let environment = try load(manifest, lockfile: root.path)
                    let bytes: [UInt8]
                    do throws(SystemError) { bytes = try HostFile.read(root.path, limit: 64 << 20) } catch {
                        throw StrataError.input(path: root.path, reason: error.reason)
                    }
                    let lockfile: Lockfile
                    do throws(LockfileError) { lockfile = try Lockfile.decode(bytes, file: root.path) } catch {
                        throw StrataError.unreadableLockfile(error)
                    }
                    _ = try builder.restoreInputs(environment, lockfile: lockfile)
                    _ = try builder.build(environment, lockfile: lockfile)
                    repair.rebuilt.append(root.path)
                } catch {
                    repair.notes.append("could not build \(root.path) again: \(error)")
                }
            }
            return (found, repair, try StoreChecker(store: store).check())
        }
    }

    private func quarantine(_ found: CheckReport, _ repair: inout RepairReport) throws(StoreError) {
        let now = context.now()
        var gone = Set<Digest>()
        for problem in found.problems {
            guard let digest = try? Digest(parsing: problem.object) else { continue }
            switch problem.kind {
            case .blob where store.hasBlob(digest):
                repair.quarantined.append(try store.quarantineBlob(digest, now: now))
            case .layer where store.hasLayer(digest):
                repair.quarantined.append(try store.quarantineLayer(digest, now: now))
                gone.insert(digest)
            default:
                continue
            }
        }
        for snapshot in try store.storedSnapshots() {
            // A record that cannot be read is dropped too: a build publishes a sound one again.
            let layers: [Digest]? = try? store.snapshotLayers(snapshot)
            if layers?.contains(where: { gone.contains($0) || !store.hasLayer($0) }) ?? true {
                try store.removeSnapshot(snapshot)
                repair.droppedSnapshots += 1
            }
        }
        for layer in found.unsealed where store.hasLayer(layer) {
            try store.writeSeal(of: store.layerPath(layer), as: layer, durable: true)
            repair.sealed += 1
        }
    }

    /// `DIR/envs/NAME.json` for `DIR/lockfiles/NAME.lock.json`, the layout `strata lock` writes.
    static func manifestPath(ofLockfile path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[parts.count - 2] == "lockfiles", parts[parts.count - 1].hasSuffix(".lock.json") else { return nil }
        let name = parts[parts.count - 1].dropLast(".lock.json".count)
        return parts.dropLast(2).joined(separator: "/") + "/envs/" + name + ".json"
    }
}

import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataStore

/// One line of `strata system df`: a kind of thing the store holds.
public struct KindUsage: Sendable, Equatable {
    /// "layers", "blobs", "snapshots", "sessions", "volumes", "caches", "temporary".
    public var kind: String
    public var count: Int
    /// How many a root reaches (sessions: running ones; volumes: mounted by a session).
    public var active: Int
    public var bytes: Int64
    /// What `strata gc` would free of it (sessions: the changes of stopped unnamed ones, which `prune` removes).
    public var reclaimable: Int64
}

/// One root's share of the store (`strata system df -v`, `strata du ENV`).
public struct RootUsage: Sendable, Equatable {
    public var root: StoreRoot
    /// Everything it reaches (and a session's own changes), each file once.
    public var bytes: Int64
    /// The part no other root reaches: what removing this root alone would let gc free.
    public var exclusive: Int64
    public var shared: Int64 { bytes - exclusive }
    public var layers: Int
    public var layerBytes: Int64
    public var blobs: Int
    public var blobBytes: Int64
}

/// What the store takes on disk, by kind and by root, as `docker system df -v` reports it.
public struct DiskUsage: Sendable, Equatable {
    public var kinds: [KindUsage]
    public var roots: [RootUsage]
    /// The whole store, each file once.
    public var bytes: Int64
}

/// Measures the store: every object's tree is walked once and every inode counted once, so
/// that a flattened layer (hard links to its stack's files) and the layers it shares with
/// other environments are not counted twice. Sizes are apparent bytes (`du -b`).
public struct DiskUsageMeter: Sendable {
    public let store: Store

    public init(store: Store) { self.store = store }

    /// An inode table: each file of the store once, by device and inode.
    struct Inodes {
        struct Key: Hashable { var device: UInt64; var inode: UInt64 }
        var index: [Key: Int] = [:]
        var bytes: [Int64] = []

        /// The inodes of the tree at `path`, each once.
        mutating func tree(_ path: String) -> Set<Int> {
            var found = Set<Int>()
            try? FileSystem.walk(path) { info in
                let key = Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                if let known = index[key] { found.insert(known) } else {
                    index[key] = bytes.count
                    found.insert(bytes.count)
                    bytes.append(Int64(info.st_size))
                }
                return true
            }
            return found
        }

        func total(_ inodes: Set<Int>) -> Int64 { inodes.reduce(0) { $0 + bytes[$1] } }
    }

    public func measure() throws(StrataError) -> DiskUsage {
        let scan = try RootScanner(store: store).scan()
        let live = scan.live
        var inodes = Inodes()
        var objects: [String: Set<Int>] = [:]
        var kinds: [KindUsage] = []
        var liveInodes = Set<Int>()
        var deadInodes: [Set<Int>] = []
        do throws(StoreError) {
            for (kind, stored, reached, path) in [
                ("layers", try store.storedLayers(), live.layers, store.layerPath),
                ("blobs", try store.storedBlobs(), live.blobs, store.blobPath),
                ("snapshots", try store.storedSnapshots(), live.snapshots, store.snapshotPath),
            ] as [(String, [Digest], Set<Digest>, (Digest) -> String)] {
                var all = Set<Int>(), dead = Set<Int>(), active = 0
                for digest in stored {
                    let found = inodes.tree(path(digest))
                    objects[kind + digest.hex] = found
                    all.formUnion(found)
                    if reached.contains(digest) {
                        active += 1
                        liveInodes.formUnion(found)
                    } else {
                        dead.formUnion(found)
                    }
                }
                kinds.append(KindUsage(kind: kind, count: stored.count, active: active, bytes: inodes.total(all), reclaimable: 0))
                deadInodes.append(dead)
            }
            for (index, dead) in deadInodes.enumerated() {
                // Only what no live object links to: a flattened layer's files stay while their package layer does.
                kinds[index].reclaimable = inodes.total(dead.subtracting(liveInodes))
            }

            var roots: [RootUsage] = []
            var reachedBy: [Int: Int] = [:]
            var rootInodes: [Set<Int>] = []
            let sessions = try store.listSessions()
            var sessionBytes: Int64 = 0, running = 0, reclaimableSessions: Int64 = 0
            for root in scan.roots {
                var mine = Set<Int>()
                for layer in root.reaches.layers { mine.formUnion(objects["layers" + layer.hex] ?? []) }
                for blob in root.reaches.blobs { mine.formUnion(objects["blobs" + blob.hex] ?? []) }
                for snapshot in root.reaches.snapshots { mine.formUnion(objects["snapshots" + snapshot.hex] ?? []) }
                if case .session(let id, let name, _) = root.kind, let record = sessions.first(where: { $0.id == id }) {
                    let changes = inodes.tree(record.upperPath)
                    mine.formUnion(changes)
                    sessionBytes += inodes.total(changes)
                    if store.isRunning(record) { running += 1 } else if name == nil { reclaimableSessions += inodes.total(changes) }
                }
                for inode in mine { reachedBy[inode, default: 0] += 1 }
                rootInodes.append(mine)
            }
            for (root, mine) in zip(scan.roots, rootInodes) {
                let layers = root.reaches.layers.filter { objects["layers" + $0.hex] != nil }
                let blobs = root.reaches.blobs.filter { objects["blobs" + $0.hex] != nil }
                roots.append(RootUsage(
                    root: root, bytes: inodes.total(mine), exclusive: inodes.total(mine.filter { reachedBy[$0] == 1 }),
                    layers: layers.count,
                    layerBytes: inodes.total(layers.reduce(into: Set<Int>()) { $0.formUnion(objects["layers" + $1.hex] ?? []) }),
                    blobs: blobs.count,
                    blobBytes: inodes.total(blobs.reduce(into: Set<Int>()) { $0.formUnion(objects["blobs" + $1.hex] ?? []) })))
            }
            kinds.append(KindUsage(kind: "sessions", count: sessions.count, active: running, bytes: sessionBytes,
                                   reclaimable: reclaimableSessions))
            let volumes = try store.listVolumes()
            let mounted = Set(sessions.flatMap(\.volumes))
            var volumeBytes: Int64 = 0, unused: Int64 = 0
            for volume in volumes {
                let tree = inodes.tree(volume.path)
                let bytes = inodes.total(tree)
                volumeBytes += bytes
                if !mounted.contains(volume.name) { unused += bytes }
            }
            // Unused volumes are never gc's: `strata volume rm` decides. Reclaimable says what it would free.
            kinds.append(KindUsage(kind: "volumes", count: volumes.count, active: volumes.filter { mounted.contains($0.name) }.count,
                                   bytes: volumeBytes, reclaimable: unused))
            let cacheTree = inodes.tree(store.root + "/cache")
            let caches = cacheTree.union(inodes.tree(store.root + "/run-caches"))
            var entries = 0
            for cache in StoreCache.allCases { entries += try store.cacheKeys(cache).count }
            kinds.append(KindUsage(kind: "caches", count: entries, active: 0, bytes: inodes.total(caches), reclaimable: 0))
            var temporaryBytes: Int64 = 0, abandoned: Int64 = 0, owned = 0
            let temporary = try store.temporaryNames()
            for name in temporary {
                let tree = inodes.tree(store.temporaryDirectory + "/" + name)
                let bytes = inodes.total(tree)
                temporaryBytes += bytes
                if store.isAbandonedTemporary(name) { abandoned += bytes } else { owned += 1 }
            }
            kinds.append(KindUsage(kind: "temporary", count: temporary.count, active: owned, bytes: temporaryBytes, reclaimable: abandoned))
            let everything = inodes.tree(store.root)
            return DiskUsage(kinds: kinds, roots: roots, bytes: inodes.total(everything))
        } catch {
            throw .store(error)
        }
    }
}

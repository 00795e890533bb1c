import Glibc
import StrataEnvironment
import StrataJSON
import StrataModel
import StrataOCI
import StrataOS
import StrataStore

/// The roots of a store and what they reach (DESIGN.md's store rules): every lockfile it
/// built while the file still pins what it built, every session, every image in
/// `index.json`.
///
/// A snapshot reaches its layers and every flattened layer of a prefix of them (a Debian
/// base's, which sessions mount; a commit's merged bottom layers). An image reaches its
/// index, manifests, config, layer blobs and the layers unpacked from them.
struct RootScanner {
    let store: Store

    /// Lockfiles larger than this are not lockfiles strata wrote (one of 2,000 packages is ~1 MB).
    static let lockfileLimit = 64 << 20
    /// Image documents are small (registries refuse manifests over 4 MiB).
    static let documentLimit = 4 << 20

    struct Scan {
        var roots: [StoreRoot] = []
        /// Build roots whose lockfile is gone: no longer roots, and their records are garbage.
        var goneLockfiles: [BuildRoot] = []
        /// What the user should hear (a lockfile that could not be read, a missing snapshot).
        var notes: [String] = []
        /// Image documents in the store that cannot be read or parsed (their paths).
        var unreadable: [String] = []
        /// Containers' manifests (`Store.containerProject`) no session names any more.
        var unusedContainerManifests: [String] = []

        var live: StoreObjects {
            var all = StoreObjects()
            for root in roots { all.formUnion(root.reaches) }
            return all
        }
    }

    /// `containers/envs/NAME.json`'s lockfile, as EnvironmentPaths places it.
    static func containerLockfile(_ manifest: String) -> String {
        let directory = FileSystem.parent(of: FileSystem.parent(of: manifest))
        let name = String(manifest.split(separator: "/").last?.dropLast(5) ?? "")
        return directory + "/lockfiles/" + name + ".lock.json"
    }

    func scan() throws(StrataError) -> Scan {
        var scan = Scan()
        let records: [BuildRoot]
        let sessions: [SessionRecord]
        do {
            records = try store.buildRoots()
            sessions = try store.listSessions()
        } catch { throw .store(error) }
        // A container's manifest and lockfile are its sessions' only: once none names them,
        // they are garbage, and the lockfile no root (else an image would outlive every use).
        let named = Set(sessions.compactMap(\.manifest))
        var containerManifests: [String] = []
        do { containerManifests = try Directory.names(store.containerProject + "/envs") } catch {
            if !error.isMissing { throw .input(path: error.path, reason: error.reason) }
        }
        for name in containerManifests where name.hasSuffix(".json") {
            let path = store.containerProject + "/envs/" + name
            if !named.contains(path) { scan.unusedContainerManifests.append(path) }
        }
        let unusedLockfiles = Set(scan.unusedContainerManifests.map(Self.containerLockfile))
        for record in records {
            if unusedLockfiles.contains(record.path) {
                scan.goneLockfiles.append(record)
                continue
            }
            if let root = lockfileRoot(record, notes: &scan.notes, unreadable: &scan.unreadable) { scan.roots.append(root) } else {
                scan.goneLockfiles.append(record)
            }
        }
        for session in sessions {
            var reach = StoreObjects()
            reachSnapshot(session.snapshot, into: &reach, notes: &scan.notes, owner: "session \(session.name ?? session.id)")
            scan.roots.append(StoreRoot(kind: .session(id: session.id, name: session.name, environment: session.environment),
                                        reaches: reach))
        }
        let index: OCIIndex
        do { index = try OCIIndex(layout: store.root) } catch { throw .image(error) }
        for entry in index.entries {
            var reach = StoreObjects()
            reachDocument(entry.digest, into: &reach, depth: 0, unreadable: &scan.unreadable)
            scan.roots.append(StoreRoot(kind: .image(reference: entry.refName, manifest: entry.digest), reaches: reach))
        }
        return scan
    }

    /// The root of a built lockfile, or nil when its file is gone. A file that now pins
    /// other things keeps only what it still pins; one that cannot be read keeps what was
    /// built, because gc must never guess that a shell's layers are unused.
    func lockfileRoot(_ record: BuildRoot, notes: inout [String], unreadable: inout [String]) -> StoreRoot? {
        var reach = StoreObjects()
        let owner = "lockfile \(record.path)"
        let bytes: [UInt8]
        do {
            guard let read = try FileSystem.readFile(record.path, limit: Self.lockfileLimit) else { return nil }
            bytes = read
        } catch {
            notes.append("kept what \(record.path) was built into: it cannot be read (\(error.reason))")
            reachSnapshot(record.snapshot, into: &reach, notes: &notes, owner: owner)
            return StoreRoot(kind: .lockfile(path: record.path), reaches: reach)
        }
        let lockfile: Lockfile
        do { lockfile = try Lockfile.decode(bytes, file: record.path) } catch {
            notes.append("kept what \(record.path) was built into: it is not a lockfile now (\(error.problem))")
            reachSnapshot(record.snapshot, into: &reach, notes: &notes, owner: owner)
            return StoreRoot(kind: .lockfile(path: record.path), reaches: reach)
        }
        reach.blobs.formUnion(lockfile.pinnedBlobs)
        reach.layers.formUnion(lockfile.pinnedLayerKeys)
        if let manifest = lockfile.pinnedImageManifest { reachDocument(manifest, into: &reach, depth: 0, unreadable: &unreadable) }
        if lockfile.digest == record.lockDigest {
            reachSnapshot(record.snapshot, into: &reach, notes: &notes, owner: owner)
        }
        if let built = store.builtSnapshot(of: lockfile), built != record.snapshot {
            reachSnapshot(built, into: &reach, notes: &notes, owner: owner)
        }
        return StoreRoot(kind: .lockfile(path: record.path), reaches: reach)
    }

    func reachSnapshot(_ chainID: Digest, into reach: inout StoreObjects, notes: inout [String], owner: String) {
        guard store.hasSnapshot(chainID) else {
            notes.append("\(owner) stands on snapshot \(chainID.short), which the store does not have (strata fsck names what is missing)")
            return
        }
        reach.snapshots.insert(chainID)
        let layers: [Digest]
        do { layers = try store.snapshotLayers(chainID) } catch {
            notes.append("\(owner): \(error)")
            return
        }
        reach.layers.formUnion(layers)
        reach.layers.formUnion(LayerKeys.flattenedPrefixes(layers))
    }

    /// An OCI document and what it names: an index's manifests, a manifest's config and
    /// layers, a config's diff ids. A document the store lacks reaches only itself (an index
    /// names other platforms' manifests; fsck reports a tag's missing one). One it has but
    /// cannot read or parse goes to `unreadable`: gc must not guess what it keeps.
    func reachDocument(_ digest: Digest, into reach: inout StoreObjects, depth: Int, unreadable: inout [String]) {
        reach.blobs.insert(digest)
        guard depth < 4, let document = document(digest, unreadable: &unreadable) else { return }
        for manifest in document["manifests"]?.arrayValue ?? [] {
            if let child = Self.digest(manifest["digest"]) { reachDocument(child, into: &reach, depth: depth + 1, unreadable: &unreadable) }
        }
        if let config = Self.digest(document["config"]?["digest"]) {
            reach.blobs.insert(config)
            for diffID in self.document(config, unreadable: &unreadable)?["rootfs"]?["diff_ids"]?.arrayValue ?? [] {
                if let layer = Self.digest(diffID) { reach.layers.insert(layer) }
            }
        }
        for layer in document["layers"]?.arrayValue ?? [] {
            if let blob = Self.digest(layer["digest"]) { reach.blobs.insert(blob) }
        }
    }

    private func document(_ digest: Digest, unreadable: inout [String]) -> JSONValue? {
        let path = store.blobPath(digest)
        do {
            guard let bytes = try FileSystem.readFile(path, limit: Self.documentLimit) else { return nil }
            return try JSON.parse(bytes)
        } catch {
            unreadable.append(path)
            return nil
        }
    }

    private static func digest(_ value: JSONValue?) -> Digest? {
        value?.stringValue.flatMap { try? Digest(parsing: $0) }
    }
}

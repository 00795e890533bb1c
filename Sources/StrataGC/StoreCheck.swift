import Glibc
import StrataArchive
import StrataEnvironment
import StrataJSON
import StrataModel
import StrataOCI
import StrataOS
import StrataStore

/// One thing wrong in the store, naming the object and where it is.
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case blob, layer, snapshot, image, session
        case buildRoot = "build root"
    }

    public var kind: Kind
    /// The digest, tag, session name or lockfile path.
    public var object: String
    public var path: String
    public var problem: String

    public init(kind: Kind, object: String, path: String, problem: String) {
        self.kind = kind; self.object = object; self.path = path; self.problem = problem
    }

    public var description: String { "\(kind.rawValue) \(object) (\(path)): \(problem)" }
}

/// What `strata fsck` found.
public struct CheckReport: Sendable, Equatable {
    public var problems: [StoreProblem] = []
    /// Not problems: layers published before seals were recorded, seals without layers.
    public var notes: [String] = []
    public var blobs = 0, layers = 0, snapshots = 0, images = 0, sessions = 0
    /// Layers without a seal, which `--repair` seals as they are.
    public var unsealed: [Digest] = []

    public init() {}
}

/// `strata fsck`: every blob hashed again against its name, every layer's tree against its
/// seal (content, modes, owners, xattrs), every snapshot, image, session and build record
/// against what it names (`nix-store --verify --check-contents`).
public struct StoreChecker: Sendable {
    public let store: Store

    public init(store: Store) { self.store = store }

    public func check() throws(StrataError) -> CheckReport {
        var report = CheckReport()
        do throws(StoreError) {
            try checkBlobs(&report)
            try checkLayers(&report)
            try checkSnapshots(&report)
        } catch {
            throw .store(error)
        }
        checkImages(&report)
        checkSessions(&report)
        checkBuildRoots(&report)
        return report
    }

    func checkBlobs(_ report: inout CheckReport) throws(StoreError) {
        for blob in try store.storedBlobs() {
            report.blobs += 1
            let path = store.blobPath(blob)
            do {
                let actual = try FileDigest.of(path, raw: Array(path.utf8CString)).digest
                if actual != blob {
                    report.problems.append(StoreProblem(kind: .blob, object: blob.description, path: path,
                                                        problem: "its bytes hash to \(actual)"))
                }
            } catch {
                report.problems.append(StoreProblem(kind: .blob, object: blob.description, path: path, problem: "cannot be read: \(error.reason)"))
            }
        }
    }

    func checkLayers(_ report: inout CheckReport) throws(StoreError) {
        var contents = TreeManifest.ContentCache()
        for layer in try store.storedLayers() {
            report.layers += 1
            let path = store.layerPath(layer)
            guard let sealed = try store.seal(of: layer) else {
                report.unsealed.append(layer)
                continue
            }
            let current: [String]
            do { current = try TreeManifest.lines(of: path, cache: &contents) } catch {
                report.problems.append(StoreProblem(kind: .layer, object: layer.description, path: path, problem: "cannot be read: \(error.reason)"))
                continue
            }
            let differences = Self.differences(sealed: sealed, current: current)
            if !differences.isEmpty {
                let shown = differences.prefix(3).joined(separator: "; ")
                let more = differences.count > 3 ? " (and \(differences.count - 3) more)" : ""
                report.problems.append(StoreProblem(kind: .layer, object: layer.description, path: path,
                                                    problem: "differs from what was published: " + shown + more))
            }
        }
        for seal in try store.sealedLayers() where !store.hasLayer(seal) {
            report.notes.append("the seal of layer \(seal.short) is left from a removal cut short; strata gc removes it")
        }
    }

    /// "/usr/bin/x: content changed", "/etc/y: missing", "/z: added", sorted by path.
    static func differences(sealed: [String], current: [String]) -> [String] {
        var before: [String: String] = [:], after: [String: String] = [:]
        for line in sealed { before[TreeManifest.path(ofLine: line)] = line }
        for line in current { after[TreeManifest.path(ofLine: line)] = line }
        var result: [String] = []
        for path in Set(before.keys).union(after.keys).sorted() {
            switch (before[path], after[path]) {
            case (let old?, let new?) where old != new:
                let a = old.split(separator: " ", maxSplits: 5), b = new.split(separator: " ", maxSplits: 5)
                let fields = ["type", "mode", "owner", "content", "xattrs"]
                let changed = (0..<5).filter { a[$0] != b[$0] }.map { fields[$0] }
                result.append("/\(path): \(changed.joined(separator: ", ")) changed")
            case (_?, nil): result.append("/\(path): missing")
            case (nil, _?): result.append("/\(path): added")
            default: continue
            }
        }
        return result
    }

    func checkSnapshots(_ report: inout CheckReport) throws(StoreError) {
        for snapshot in try store.storedSnapshots() {
            report.snapshots += 1
            let path = store.snapshotPath(snapshot)
            do {
                for layer in try store.snapshotLayers(snapshot) where !store.hasLayer(layer) {
                    report.problems.append(StoreProblem(kind: .snapshot, object: snapshot.description, path: path,
                                                        problem: "names layer \(layer), which is missing"))
                }
            } catch {
                report.problems.append(StoreProblem(kind: .snapshot, object: snapshot.description, path: path, problem: "\(error)"))
            }
        }
    }

    func checkImages(_ report: inout CheckReport) {
        let index: OCIIndex
        do { index = try OCIIndex(layout: store.root) } catch {
            report.problems.append(StoreProblem(kind: .image, object: "index.json", path: store.root + "/index.json", problem: error.description))
            return
        }
        for entry in index.entries {
            report.images += 1
            let name = entry.refName ?? entry.digest.description
            var reach = StoreObjects(), unreadable: [String] = []
            RootScanner(store: store).reachDocument(entry.digest, into: &reach, depth: 0, unreadable: &unreadable)
            for path in unreadable {
                report.problems.append(StoreProblem(kind: .image, object: name, path: path, problem: "cannot be read or parsed as an image document"))
            }
            for blob in reach.blobs.sorted() where !store.hasBlob(blob) {
                report.problems.append(StoreProblem(kind: .image, object: name, path: store.blobPath(blob),
                                                    problem: "names blob \(blob), which is missing"))
            }
        }
    }

    func checkSessions(_ report: inout CheckReport) {
        let sessions: [SessionRecord]
        do { sessions = try store.listSessions() } catch {
            report.problems.append(StoreProblem(kind: .session, object: "sessions/", path: store.root + "/sessions", problem: "\(error)"))
            return
        }
        for session in sessions {
            report.sessions += 1
            if !store.hasSnapshot(session.snapshot) {
                report.problems.append(StoreProblem(kind: .session, object: session.name ?? session.id, path: session.path,
                                                    problem: "stands on snapshot \(session.snapshot), which is missing"))
            }
        }
    }

    func checkBuildRoots(_ report: inout CheckReport) {
        let roots: [BuildRoot]
        do { roots = try store.buildRoots() } catch {
            report.problems.append(StoreProblem(kind: .buildRoot, object: "roots/lockfiles", path: store.root + "/roots/lockfiles", problem: "\(error)"))
            return
        }
        for root in roots where FileSystem.exists(root.path) && !store.hasSnapshot(root.snapshot) {
            report.problems.append(StoreProblem(kind: .buildRoot, object: root.path, path: store.buildRootPath(root.path),
                                                problem: "was built into snapshot \(root.snapshot), which is missing"))
        }
    }
}

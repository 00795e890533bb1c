import CLinux
import Glibc
import StrataArchive
import StrataEnvironment
import StrataModel
import StrataOS
import StrataStore

/// What `strata build --verify` found: each layer of the environment as built in the
/// store, against the same layer rebuilt from the lockfile alone.
public struct VerifyReport: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        /// What made it: `step 3 (run: …)`, `Debian configure`, `package curl`.
        public var name: String
        /// The diff id of the layer in use and of the rebuilt one (deterministic tars of their trees).
        public var inUse: Digest
        public var rebuilt: Digest
        /// How the trees differ, when they do.
        public var differences: [String]
        public var identical: Bool { inUse == rebuilt }
    }

    public var layers: [Layer]
    public var reproducible: Bool { layers.allSatisfy(\.identical) }
}

extension Builder {
    /// Rebuilds every layer of the environment in a fresh store of its own, with no cache
    /// (the pinned inputs — blobs, `.deb`s — are shared: they are verified bytes, not
    /// results), and compares each layer with the one the store has. Layers unpacked from
    /// a pinned blob are the same by construction and are not compared. `keep` receives
    /// both flattened trees (`in-use/`, `rebuilt/`) for tools like diffoscope.
    public func verify(_ environment: LoadedEnvironment, lockfile: Lockfile, keep: String? = nil) throws(StrataError) -> VerifyReport {
        let built = try build(environment, lockfile: lockfile)
        let fresh = store.temporaryPath("verify")
        defer { do { try FileSystem.removeTree(fresh) } catch { context.note("could not remove \(fresh): \(error.reason)") } }
        let other: Store
        do { other = try Store(root: fresh) } catch { throw .store(error) }
        for blob in lockfile.pinnedBlobs where store.hasBlob(blob) && !other.hasBlob(blob) {
            // A hard link when the stores share a file system (they do: the fresh one is in tmp/).
            if link(store.blobPath(blob), other.blobPath(blob)) != 0 {
                do { try other.ingestBlob(copying: store.blobPath(blob), expected: blob, size: nil) } catch { throw .store(error) }
            }
        }
        var quiet = context
        quiet.events = { _ in }
        let rebuilt = try Builder(store: other, context: quiet, mirrors: mirrors)
            .build(environment, lockfile: lockfile, options: BuildOptions(noCache: true))
        let ours: [Digest], theirs: [Digest]
        do {
            ours = try store.snapshotLayers(built.snapshot)
            theirs = try other.snapshotLayers(rebuilt.snapshot)
        } catch { throw .store(error) }
        guard ours.count == theirs.count else {
            throw .input(path: environment.paths.lockfile, reason: "the rebuild has \(theirs.count) layers, the store \(ours.count): the lockfile does not describe what the store built")
        }
        let pinned = Set(lockfile.pinnedLayers.map(\.diffID))
        let names = Self.layerNames(lockfile, environment: environment, count: ours.count)
        var report = VerifyReport(layers: [])
        var differing = false
        for (index, (mine, yours)) in zip(ours, theirs).enumerated() where !pinned.contains(mine) || mine != yours {
            let a = try treeDigest(store.layerPath(mine)), b = try treeDigest(other.layerPath(yours))
            var layer = VerifyReport.Layer(name: names[index], inUse: a, rebuilt: b, differences: [])
            if a != b || differing {
                differing = differing || a != b
                if a != b { layer.differences = try TreeComparison.differences(store.layerPath(mine), other.layerPath(yours)) }
            }
            report.layers.append(layer)
        }
        if let keep, !report.reproducible {
            do {
                try FileSystem.makeDirectories(keep + "/in-use", mode: 0o755)
                try FileSystem.makeDirectories(keep + "/rebuilt", mode: 0o755)
                try store.flatten(try store.lowerDirs(for: built.snapshot).reversed(), into: keep + "/in-use")
                try other.flatten(try other.lowerDirs(for: rebuilt.snapshot).reversed(), into: keep + "/rebuilt")
            } catch {
                throw .input(path: keep, reason: "cannot keep the two trees there (\(error)); they are hard links into the store, so name an empty directory on the store's file system")
            }
        }
        return report
    }

    func treeDigest(_ directory: String) throws(StrataError) -> Digest {
        do { return try TreeArchiver.digest(source: directory, target: "/", options: .sessionChange(epoch: nil)) } catch {
            throw .archive(path: directory, error)
        }
    }


    /// A name for each layer of the snapshot, bottom first.
    static func layerNames(_ lockfile: Lockfile, environment: LoadedEnvironment, count: Int) -> [String] {
        var names: [String] = []
        if case .debian(let debian) = lockfile.base {
            names.append("the merged-/usr skeleton")
            names += debian.packages.map { "package \($0.name) \($0.version)" }
            names += ["the dpkg status", "the Debian configure step"]
        }
        var step = 0
        for locked in lockfile.steps {
            if locked.isManifestStep {
                step += 1
                names.append("step \(step) (\(locked.summary))")
            } else {
                names.append(locked.summary)
            }
        }
        while names.count < count { names.append("layer \(names.count + 1)") }
        return names
    }
}

/// The files of two layer trees and how they differ, as `diffoci --semantic` reports:
/// content sha256, type, mode, owner, mtime, symlink target and xattrs; what only one has.
enum TreeComparison {
    struct Entry: Equatable {
        var kind: String
        var mode: UInt32
        var owner: String
        var mtime: Int
        var content: String
        var xattrs: [String]
    }

    static func differences(_ a: String, _ b: String) throws(StrataError) -> [String] {
        let left = try entries(a), right = try entries(b)
        var lines: [String] = []
        for path in Set(left.keys).union(right.keys).sorted() {
            guard let x = left[path] else { lines.append("\(path): only in the rebuild"); continue }
            guard let y = right[path] else { lines.append("\(path): only in the layer in use"); continue }
            if x == y { continue }
            var what: [String] = []
            if x.kind != y.kind { what.append("type \(x.kind) → \(y.kind)") }
            if x.content != y.content { what.append(x.kind == "symlink" ? "target \(x.content) → \(y.content)" : "content \(x.content) → \(y.content)") }
            if x.mode != y.mode { what.append("mode " + String(x.mode, radix: 8) + " → " + String(y.mode, radix: 8)) }
            if x.owner != y.owner { what.append("owner \(x.owner) → \(y.owner)") }
            if x.mtime != y.mtime { what.append("mtime \(x.mtime) → \(y.mtime)") }
            if x.xattrs != y.xattrs { what.append("xattrs [\(x.xattrs.joined(separator: ", "))] → [\(y.xattrs.joined(separator: ", "))]") }
            lines.append("\(path): " + what.joined(separator: ", "))
        }
        return lines
    }

    static func entries(_ root: String) throws(StrataError) -> [String: Entry] {
        var result: [String: Entry] = [:]
        func walk(_ relative: String) throws(StrataError) {
            let directory = root + relative
            let names: [String]
            do { names = try Directory.names(directory) } catch { throw .input(path: directory, reason: error.reason) }
            for name in names {
                let path = relative + "/" + name
                let full = root + path
                var info = stat()
                guard lstat(full, &info) == 0 else { throw .input(path: full, reason: SystemError.text(errno)) }
                var entry = Entry(kind: "file", mode: UInt32(info.st_mode & 0o7777), owner: "\(info.st_uid):\(info.st_gid)",
                                  mtime: info.st_mtim.tv_sec, content: "", xattrs: xattrs(full))
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    entry.kind = "directory"
                    try walk(path)
                case S_IFLNK:
                    entry.kind = "symlink"
                    var buffer = [CChar](repeating: 0, count: 4097)
                    let count = readlink(full, &buffer, 4096)
                    entry.content = count >= 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
                case S_IFREG:
                    do { entry.content = try FileDigest.of(full).digest.description } catch { throw .input(path: full, reason: error.reason) }
                case S_IFCHR where info.st_rdev == 0:
                    entry.kind = "whiteout"
                default:
                    entry.kind = "special \(info.st_mode & S_IFMT) \(info.st_rdev)"
                }
                result[path] = entry
            }
        }
        try walk("")
        return result
    }

    static func xattrs(_ path: String) -> [String] {
        var size = llistxattr(path, nil, 0)
        guard size > 0 else { return [] }
        var names = [CChar](repeating: 0, count: size)
        size = llistxattr(path, &names, size)
        guard size > 0 else { return [] }
        var result: [String] = []
        var start = 0
        for i in 0..<size where names[i] == 0 {
            let name = Array(names[start..<i]) + [0]
            start = i + 1
            var value = [UInt8](repeating: 0, count: 65536)
            let length = lgetxattr(path, name, &value, value.count)
            let text = String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            result.append(text + "=" + (length >= 0 ? Digest.sha256(of: Array(value[..<length])).short : "?"))
        }
        return result.sorted()
    }
}

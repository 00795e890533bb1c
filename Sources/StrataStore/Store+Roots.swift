import Glibc
import StrataModel
import StrataOS

/// A lockfile this store has built: a gc root for what it pinned while the file at `path`
/// still pins it (DESIGN.md: gc removes what no lockfile root references). One record per
/// lockfile path, so building a changed lockfile at the same path moves its root.
public struct BuildRoot: Equatable, Sendable {
    /// Absolute path of the lockfile, as it was built (symlinks not resolved).
    public var path: String
    /// The lockfile's digest when it was built.
    public var lockDigest: Digest
    /// The snapshot the build made.
    public var snapshot: Digest

    public init(path: String, lockDigest: Digest, snapshot: Digest) {
        self.path = path; self.lockDigest = lockDigest; self.snapshot = snapshot
    }
}

extension Store {
    /// Where build roots are recorded, each named by the sha256 of its lockfile's path.
    static let buildRootsDirectory = "roots/lockfiles"
    static let buildRootLimit = 1 << 16
    /// "sha256:" and 64 hex digits.
    static let digestTextLength = 71

    /// Where the build root of the lockfile at `lockfilePath` is recorded.
    public func buildRootPath(_ lockfilePath: String) -> String {
        root + "/" + Store.buildRootsDirectory + "/" + Digest.sha256(of: Array(lockfilePath.utf8)).hex
    }

    /// Records that the lockfile at `lockfilePath` was built here into `snapshot`, replacing
    /// the record of an earlier build of that path. A record of the same snapshot is left as
    /// it is, and `lockDigest` (which encodes the whole lockfile) is then not asked for:
    /// every warm `strata run` passes here, and it costs one small read.
    public func recordBuildRoot(path lockfilePath: String, snapshot: Digest, lockDigest: () -> Digest) throws(StoreError) {
        guard lockfilePath.hasPrefix("/"), Store.isOneLine(lockfilePath) else {
            throw .invalidName(lockfilePath, reason: "a lockfile path is one absolute line")
        }
        let path = buildRootPath(lockfilePath)
        // Compared as bytes (the path line first, the snapshot line last, a digest between):
        // decoding the record measured 110k instructions of a warm run's 7.1M. An unreadable
        // or damaged record is written again, which is what it needs.
        let first = Array(Store.buildRootHead(lockfilePath).utf8), last = Array(Store.buildRootTail(snapshot).utf8)
        if let bytes = try? FileSystem.readFile(path, limit: Store.buildRootLimit),
           bytes.count == first.count + Store.digestTextLength + last.count,
           bytes.starts(with: first), bytes.suffix(last.count).elementsEqual(last) { return }
        let text = Store.encode(BuildRoot(path: lockfilePath, lockDigest: lockDigest(), snapshot: snapshot))
        let temporary = temporaryPath("build-root")
        do throws(StoreError) {
            try io(try FileSystem.makeDirectory(root + "/roots", mode: 0o700))
            try io(try FileSystem.makeDirectory(root + "/" + Store.buildRootsDirectory, mode: 0o700))
            try io(try FileSystem.createFile(temporary, contents: Array(text.utf8), mode: 0o600))
            try io(try FileSystem.rename(temporary, to: path, durable: true))
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Every recorded build root, in no particular order. A record that cannot be read or
    /// parsed is `corrupt`, naming it: gc must not guess what it protected.
    public func buildRoots() throws(StoreError) -> [BuildRoot] {
        let directory = root + "/" + Store.buildRootsDirectory
        let names: [String]
        do { names = try Directory.names(directory) } catch {
            if error.errno == ENOENT { return [] }
            throw StoreError.io(path: directory, reason: error.reason)
        }
        var roots: [BuildRoot] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            guard let bytes = try io(try FileSystem.readFile(path, limit: Store.buildRootLimit)) else { continue }
            guard let text = String(validating: bytes, as: UTF8.self), let record = Store.decodeBuildRoot(text),
                  buildRootPath(record.path) == path else {
                throw .corrupt(path: path, reason: "not a build root record (path=, lock=, snapshot= lines naming its own path)")
            }
            roots.append(record)
        }
        return roots
    }

    /// Forgets the build root of the lockfile at `lockfilePath`, if there is one.
    public func removeBuildRoot(_ lockfilePath: String) throws(StoreError) {
        let path = buildRootPath(lockfilePath)
        if unlink(path) != 0 && errno != ENOENT { throw StoreError.system(path, "unlink") }
    }

    static func encode(_ buildRoot: BuildRoot) -> String {
        buildRootHead(buildRoot.path) + buildRoot.lockDigest.description + buildRootTail(buildRoot.snapshot)
    }

    /// A record up to its lock digest, and after it: what a warm run compares.
    static func buildRootHead(_ path: String) -> String { "path=\(path)\nlock=" }
    static func buildRootTail(_ snapshot: Digest) -> String { "\nsnapshot=\(snapshot)\n" }

    static func decodeBuildRoot(_ text: String) -> BuildRoot? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { return nil }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let path = fields["path"], path.hasPrefix("/"),
              let lock = fields["lock"].flatMap({ try? Digest(parsing: $0) }),
              let snapshot = fields["snapshot"].flatMap({ try? Digest(parsing: $0) }) else { return nil }
        return BuildRoot(path: path, lockDigest: lock, snapshot: snapshot)
    }
}

import Glibc
import StrataOS
import StrataModel
import StrataArchive

/// Why a store operation failed. Each case names the path or digest it is about.
public enum StoreError: Error, Equatable, Sendable {
    case io(path: String, reason: String)
    /// Bytes offered for a digest did not hash to it (or had the wrong size); nothing was published.
    case digestMismatch(expected: Digest, actual: Digest, source: String)
    case sizeMismatch(digest: Digest, expected: Int64, actual: Int64, source: String)
    case missingBlob(Digest)
    case unpack(blob: Digest, ArchiveError)
    /// A layer unpacked from `blob` had a different diff id than the lock pinned.
    case diffIDMismatch(blob: Digest, expected: Digest, actual: Digest)
    case sessionExists(String)
    case noSuchSession(String)
    /// A snapshot names a layer that is not in `layers/`.
    case missingLayer(Digest)
    /// No snapshot with this chain id was published.
    case missingSnapshot(Digest)
    /// A snapshot needs at least one layer (`scratch` uses `Store.emptyLayer()`).
    case emptySnapshot
    /// A stored record (snapshot, session) is unreadable or contradicts its name.
    case corrupt(path: String, reason: String)
    /// A session name, environment name or lock name that the store cannot hold.
    case invalidName(String, reason: String)
    /// The session is locked by a running process or still mounted.
    case sessionInUse(String)
    /// No volume with this name exists.
    case noSuchVolume(String)
    /// The volume is mounted by these sessions (names, or ids of unnamed ones); `running`
    /// says whether one of them is running now.
    case volumeInUse(String, sessions: [String], running: Bool)
}

/// The on-disk, content-addressed home of blobs, layers, snapshots and sessions
/// (DESIGN.md, Store layout). The root is also an OCI image layout.
///
/// Guarantees: every object appears by rename(2) from `tmp/`, complete and
/// verified; published blobs, layers and snapshots are never modified; several
/// processes may use one store at once (flock in `locks/`). Store directories are
/// created mode 0700. The type holds only its root path, so it is freely shared.
public final class Store: Sendable {
    /// Absolute path of the store root, without a trailing slash.
    public let root: String

    static let subdirectories = ["blobs", "blobs/sha256", "layers", "snapshots", "sessions", "volumes", "tmp", "locks"]
    static let ociLayoutDocument = #"{"imageLayoutVersion": "1.0.0"}"# + "\n"
    static let emptyIndexDocument = #"{"schemaVersion": 2, "manifests": []}"# + "\n"

    /// Opens (creating if needed, mode 0700) the store at `root`.
    ///
    /// Opening an existing store costs a few mkdir/access calls and no directory
    /// scan: it is on the start-up path of `strata run`. `root` is absolute (the caller
    /// resolves a relative one against its working directory).
    public init(root: String) throws(StoreError) {
        self.root = try Store.absolute(root)
        try createLayout()
    }

    /// `$STRATA_ROOT`, else `/var/lib/strata` for root, else `$XDG_DATA_HOME/strata`
    /// (`~/.local/share/strata`).
    public static func defaultRoot(environment: [String: String]) -> String {
        defaultRoot(environment: environment, effectiveUserID: geteuid())
    }

    static func defaultRoot(environment: [String: String], effectiveUserID: uid_t) -> String {
        if let root = environment["STRATA_ROOT"], !root.isEmpty { return root }
        // Root of a rootless strata's own namespace is still the user: their store, not the host's.
        if effectiveUserID == 0 && UserNamespace.current == .none { return "/var/lib/strata" }
        // The XDG spec says relative values are invalid and must be ignored.
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") { return data + "/strata" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.local/share/strata" }
        if let entry = getpwuid(effectiveUserID), let directory = entry.pointee.pw_dir {
            return String(cString: directory) + "/.local/share/strata"
        }
        // Never a guessable directory under /tmp that another user could create first:
        // for a non-root user this fails to open, naming the path.
        return "/var/lib/strata"
    }

    /// The store's own root must not depend on a process's working directory (a daemon's
    /// is not its clients'): callers make it absolute against theirs.
    private static func absolute(_ path: String) throws(StoreError) -> String {
        guard path.hasPrefix("/") else {
            throw .invalidName(path, reason: "a store root is an absolute path (layer paths handed to overlayfs must be)")
        }
        return absolute(path, workingDirectory: "/")
    }

    static func absolute(_ path: String, workingDirectory: String) -> String {
        var result = path
        while result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        if result.hasPrefix("/") { return result }
        if result.isEmpty || result == "." { return workingDirectory }
        return (workingDirectory == "/" ? "" : workingDirectory) + "/" + result
    }

    private func createLayout() throws(StoreError) {
        try io(try FileSystem.makeDirectories(root, mode: 0o700))
        for directory in Store.subdirectories {
            try io(try FileSystem.makeDirectory(root + "/" + directory, mode: 0o700))
        }
        try createIfMissing(root + "/oci-layout", contents: Store.ociLayoutDocument)
        try createIfMissing(root + "/index.json", contents: Store.emptyIndexDocument)
    }

    /// Publishes a fixed document unless one exists. link(2), unlike rename(2),
    /// never replaces: an `index.json` another process filled in meanwhile survives.
    private func createIfMissing(_ path: String, contents: String) throws(StoreError) {
        if FileSystem.exists(path) { return }
        let temporary = temporaryPath("layout")
        try io(try FileSystem.createFile(temporary, contents: Array(contents.utf8), mode: 0o644))
        defer { unlink(temporary) }
        if link(temporary, path) != 0 && errno != EEXIST {
            throw StoreError.system(path, "link")
        }
    }

    /// The store's `tmp/`: where every object is written before it is renamed into place
    /// (on the store's file system, so renames out of it are atomic).
    public var temporaryDirectory: String { root + "/tmp" }
    /// `strata serve`'s containers' settings: `envs/` (a manifest per image and settings)
    /// and `lockfiles/`, a project of the store's own. A manifest no session names is garbage.
    public var containerProject: String { root + "/containers" }

    /// A fresh path directly under `tmp/` for a file the caller writes and then
    /// hands to `publishBlob(temporaryFile:expected:)`. Nothing is created.
    public func temporaryPath(_ hint: String) -> String {
        var cleanHint = String(hint.unicodeScalars.prefix(48).map { scalar -> Character in
            let c = Character(scalar)
            return (c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_")) ? c : "_"
        })
        if cleanHint.isEmpty { cleanHint = "tmp" }
        return root + "/tmp/" + cleanHint + "." + String(getpid()) + "." + FileSystem.randomHex(bytes: 8)
    }
}

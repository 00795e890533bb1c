import Glibc
import StrataOS
import StrataModel

/// What the store knows of one session (a writable instance of a snapshot;
/// Docker calls it a container). Immutable once created; `path` is the
/// session directory holding `upper/`, `work/` and `root/`.
public struct SessionRecord: Sendable, Equatable {
    /// 12 random lowercase hex characters, unique in the store.
    public let id: String
    /// Optional user-chosen name, unique in the store among names and ids.
    public let name: String?
    /// Chain id of the snapshot the session's lower dirs come from.
    public let snapshot: Digest
    /// Name of the environment the session was made for.
    public let environment: String
    /// Creation time, seconds since the Unix epoch.
    public let created: Int64
    /// Absolute path of the session directory.
    public let path: String
    /// Absolute path of the manifest the session was made from, so that a kept
    /// session can be entered again; nil for records written before it was kept.
    public let manifest: String?
    /// Names of the volumes the session mounts (`STORE/volumes/NAME`), sorted, without repeats.
    public let volumes: [String]

    public init(
        id: String, name: String?, snapshot: Digest, environment: String, created: Int64, path: String,
        manifest: String? = nil, volumes: [String] = []
    ) {
        self.id = id; self.name = name; self.snapshot = snapshot
        self.environment = environment; self.created = created; self.path = path
        self.manifest = manifest; self.volumes = volumes
    }

    /// The overlay upper dir: the session's writes.
    public var upperPath: String { path + "/upper" }
    /// The overlay work dir (same file system as `upperPath`, empty at creation).
    public var workPath: String { path + "/work" }
    /// Where the overlay is mounted.
    public var rootPath: String { path + "/root" }
}

extension Store {
    static let sessionRecordFile = "record"
    static let sessionsLock = "sessions"

    public func sessionPath(_ id: String) -> String { root + "/sessions/" + id }

    /// Creates `sessions/<id>/` with empty `upper/`, `work/`, `root/` and a record.
    /// Names follow Docker's rule (`[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 128) and
    /// share one namespace with ids; a name in use is `sessionExists`. `manifest` is
    /// an absolute path; `volumes` are volume names (they need not exist yet). A `durable`
    /// session (one that is kept) survives a power cut with its record; any other may be lost
    /// to one, and then its directory is garbage gc removes (`isLostSession`).
    public func createSession(
        snapshot: Digest, name: String?, environment: String, manifest: String? = nil, volumes: [String] = [],
        durable: Bool = false
    ) throws(StoreError) -> SessionRecord {
        if let name { try Store.validateSessionName(name) }
        guard Store.isOneLine(environment)
        else { throw .invalidName(environment, reason: "an environment name is one non-empty line") }
        if let manifest, !(manifest.hasPrefix("/") && Store.isOneLine(manifest)) {
            throw .invalidName(manifest, reason: "a manifest path is one absolute line")
        }
        for volume in volumes { try Store.validateVolumeName(volume) }
        guard hasSnapshot(snapshot) else { throw .missingSnapshot(snapshot) }

        return try withLock(Store.sessionsLock) { () throws(StoreError) -> SessionRecord in
            // Listing reads every record: only a name needs it. Unnamed sessions are
            // the `strata run` hot path, and a random 48-bit id only needs a stat.
            // Under the same lock as `removeVolume`, so a volume recorded here exists.
            for volume in volumes { _ = try ensureVolume(volume) }
            let existing = name == nil ? [] : try listSessions()
            if let name, existing.contains(where: { $0.name == name || $0.id == name }) {
                throw .sessionExists(name)
            }
            var id = FileSystem.randomHex(bytes: 6)
            while FileSystem.exists(sessionPath(id)) || existing.contains(where: { $0.name == id }) {
                id = FileSystem.randomHex(bytes: 6)
            }
            let final = sessionPath(id)
            let record = SessionRecord(
                id: id, name: name, snapshot: snapshot, environment: environment,
                created: Int64(time(nil)), path: final, manifest: manifest, volumes: Array(Set(volumes)).sorted())
            let work = root + "/tmp/session-" + id
            try io(try FileSystem.removeTree(work))
            do throws(StoreError) {
                try io(try FileSystem.makeDirectory(work, mode: 0o700))
                try io(try FileSystem.makeDirectory(work + "/upper", mode: 0o755))
                try io(try FileSystem.makeDirectory(work + "/work", mode: 0o700))
                // Only a mount point: the session's root is the overlay mounted over it.
                try io(try FileSystem.makeDirectory(work + "/root", mode: 0o700))
                // Unless kept, no fsync: a session lost to a power cut is garbage, not
                // damage, and two fsyncs cost milliseconds on every `strata run`.
                try io(
                    try FileSystem.createFile(
                        work + "/" + Store.sessionRecordFile, contents: Array(Store.encode(record).utf8), mode: 0o600,
                        durable: durable))
                try io(try FileSystem.rename(work, to: final, durable: durable))
            } catch {
                do throws(StoreError) { try io(try FileSystem.removeTree(work)) } catch {}
                throw error
            }
            return record
        }
    }

    /// Names the session `id` (as `docker rename`): a name another session has or is is
    /// `sessionExists`. The record is replaced atomically.
    @discardableResult
    public func nameSession(_ id: String, _ name: String) throws(StoreError) -> SessionRecord {
        try Store.validateSessionName(name)
        return try withLock(Store.sessionsLock) { () throws(StoreError) -> SessionRecord in
            guard let record = try readSession(id) else { throw .io(path: sessionPath(id), reason: "there is no such session") }
            if try listSessions().contains(where: { $0.id != id && ($0.name == name || $0.id == name) }) {
                throw .sessionExists(name)
            }
            let named = SessionRecord(id: record.id, name: name, snapshot: record.snapshot, environment: record.environment,
                                      created: record.created, path: record.path, manifest: record.manifest, volumes: record.volumes)
            try io(try HostFile.writeAtomically(Array(Store.encode(named).utf8), to: record.path + "/" + Store.sessionRecordFile,
                                                temporaryDirectory: temporaryDirectory))
            return named
        }
    }

    /// Removes the session with this id (or, failing that, this name) and all its files.
    /// A session whose `session-<id>` lock is held (a runner should hold it while the
    /// session is in use) or whose `root/` is still a mount point is `sessionInUse`.
    public func removeSession(_ idOrName: String) throws(StoreError) {
        try withLock(Store.sessionsLock) { () throws(StoreError) in
            guard let record = try findSession(idOrName) else { throw .noSuchSession(idOrName) }
            guard let inUse = try tryLock("session-" + record.id) else { throw .sessionInUse(idOrName) }
            let outcome: Result<Void, StoreError>
            do throws(StoreError) {
                try removeSessionFiles(record, requestedAs: idOrName)
                // Unlike other lock files this one can go: session ids are never reused, so
                // whoever still waits on it afterwards finds no session and stops. Without
                // this, every `strata run` would leave a file in `locks/`.
                _ = unlink(lockPath("session-" + record.id))
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            inUse.release()
            try outcome.get()
        }
    }

    private func removeSessionFiles(_ record: SessionRecord, requestedAs idOrName: String) throws(StoreError) {
        var directoryInfo = stat()
        var rootInfo = stat()
        guard stat(record.path, &directoryInfo) == 0 else { throw StoreError.system(record.path, "stat") }
        if stat(record.rootPath, &rootInfo) == 0 && rootInfo.st_dev != directoryInfo.st_dev {
            throw .sessionInUse(idOrName)
        }
        // Out of `sessions/` first, so that a crash mid-removal leaves only garbage in `tmp/`.
        let doomed = temporaryPath("session-removed-" + record.id)
        try io(try FileSystem.rename(record.path, to: doomed))
        // Unlinked while still held, so nobody can lock the file of a session that is gone.
        unlink(lockPath("session-" + record.id))
        try io(try FileSystem.removeTree(doomed))
    }

    /// True while a process holds the session's `session-<id>` lock, as
    /// `Engine.runHoldingLock` does for the whole life of a session.
    ///
    /// Probes with a shared, non-blocking flock released at once: it fails only
    /// against the runner's exclusive lock, so two listings at the same time do not
    /// see each other as runners. A missing lock file means nobody ever ran it (or it
    /// was removed): the file is not created, so listing leaves nothing in `locks/`.
    public func isRunning(_ session: SessionRecord) -> Bool {
        let fd = open(lockPath("session-" + session.id), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        while flock(fd, LOCK_SH | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            return errno == EWOULDBLOCK
        }
        return false
    }

    /// The session with this id, or else with this name; `nil` if there is none.
    public func session(named idOrName: String) throws(StoreError) -> SessionRecord? {
        try findSession(idOrName)
    }

    /// Every session, oldest first.
    public func listSessions() throws(StoreError) -> [SessionRecord] {
        let ids = try io(try Directory.names(root + "/sessions")).filter { !$0.hasPrefix(".") }
        var records: [SessionRecord] = []
        for id in ids {
            // A session removed while we listed is simply gone; anything else unreadable is reported.
            if let record = try readSession(id) { records.append(record) }
        }
        return records.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    private func findSession(_ idOrName: String) throws(StoreError) -> SessionRecord? {
        if Store.isSessionID(idOrName), let record = try readSession(idOrName) { return record }
        return try listSessions().first { $0.name == idOrName }
    }

    private func readSession(_ id: String) throws(StoreError) -> SessionRecord? {
        let directory = sessionPath(id)
        let path = directory + "/" + Store.sessionRecordFile
        guard let bytes = try io(try FileSystem.readFile(path, limit: 64 << 10)) else {
            if FileSystem.exists(directory) { throw .corrupt(path: path, reason: "missing session record") }
            return nil
        }
        // What a power cut leaves of a session that was not kept: no session, and garbage.
        if bytes.isEmpty { return nil }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else {
                throw .corrupt(path: path, reason: "not key=value: \(line)")
            }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard fields["id"] == id else { throw .corrupt(path: path, reason: "id is not \(id)") }
        guard let snapshotText = fields["snapshot"], let snapshot = try? Digest(parsing: snapshotText) else {
            throw .corrupt(path: path, reason: "snapshot is missing or not a digest")
        }
        guard let environment = fields["environment"] else { throw .corrupt(path: path, reason: "environment is missing") }
        guard let createdText = fields["created"], let created = Int64(createdText) else {
            throw .corrupt(path: path, reason: "created is missing or not a number")
        }
        // `manifest` and `volumes` came later: records without them are sessions made before.
        let volumes = fields["volumes"].map { $0.split(separator: ",").map(String.init) } ?? []
        return SessionRecord(
            id: id, name: fields["name"], snapshot: snapshot, environment: environment, created: created,
            path: directory, manifest: fields["manifest"], volumes: volumes)
    }

    /// Session directories whose record a power cut emptied (of sessions that were not
    /// kept), and that nobody runs: gc's to remove.
    public func lostSessions() throws(StoreError) -> [String] {
        var lost: [String] = []
        for id in try io(try Directory.names(root + "/sessions")) where Store.isSessionID(id) {
            let record = sessionPath(id) + "/" + Store.sessionRecordFile
            guard let info = try io(try FileSystem.status(record)), info.st_size == 0 else { continue }
            guard let probe = try tryLock("session-" + id) else { continue }
            probe.release()
            lost.append(id)
        }
        return lost
    }

    /// Removes a lost session's directory (`lostSessions`), through `tmp/`.
    public func removeLostSession(_ id: String) throws(StoreError) {
        let doomed = temporaryPath("session-lost-" + id)
        try io(try FileSystem.rename(sessionPath(id), to: doomed))
        unlink(lockPath("session-" + id))
        try io(try FileSystem.removeTree(doomed))
    }

    static func encode(_ record: SessionRecord) -> String {
        var text = "id=\(record.id)\n"
        if let name = record.name { text += "name=\(name)\n" }
        text += "snapshot=\(record.snapshot)\nenvironment=\(record.environment)\ncreated=\(record.created)\n"
        if let manifest = record.manifest { text += "manifest=\(manifest)\n" }
        // Volume names cannot hold a comma.
        if !record.volumes.isEmpty { text += "volumes=\(record.volumes.joined(separator: ","))\n" }
        return text
    }

    static func isOneLine(_ text: String) -> Bool {
        !text.isEmpty && !text.contains("\n") && !text.contains("\r") && !text.utf8.contains(0)
    }

    static func isSessionID(_ text: String) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func validateSessionName(_ name: String) throws(StoreError) {
        let bytes = Array(name.utf8)
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            return alphanumeric || (!first && (byte == 0x5f || byte == 0x2e || byte == 0x2d))
        }
        guard let first = bytes.first, bytes.count <= 128, allowed(first, first: true),
              bytes.dropFirst().allSatisfy({ allowed($0, first: false) })
        else { throw .invalidName(name, reason: "a session name is [A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 characters") }
    }
}

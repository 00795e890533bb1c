import Glibc
import StrataOS
import StrataModel

/// A named volume: a directory in the store (`volumes/NAME/_data`) that sessions
/// bind-mount read-write and that outlives them (Docker's `local` volumes).
/// The record is a snapshot of what was on disk when it was read.
public struct VolumeRecord: Sendable, Equatable {
    /// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters, unique in the store.
    public let name: String
    /// Creation time, seconds since the Unix epoch.
    public let created: Int64
    /// Absolute path of the volume's directory (`volumes/NAME`).
    public let path: String

    public init(name: String, created: Int64, path: String) {
        self.name = name; self.created = created; self.path = path
    }

    /// The directory sessions mount: the volume's data (Docker's `Mountpoint`).
    public var dataPath: String { path + "/_data" }
}

extension Store {
    static let volumeRecordFile = "record"

    /// Where the volume `name` lives, whether or not it exists.
    public func volumePath(_ name: String) -> String { root + "/volumes/" + name }

    /// The directory a session mounts for the volume `name`, whether or not it exists.
    public func volumeDataPath(_ name: String) -> String { volumePath(name) + "/_data" }

    /// Creates the volume unless it exists (as `docker volume create` does, an existing
    /// volume is not an error) and returns it with whether this call created it.
    /// `_data` is a 0755 directory owned by the caller (root, for
    /// sessions), as Docker makes it.
    @discardableResult
    public func createVolume(_ name: String) throws(StoreError) -> (volume: VolumeRecord, created: Bool) {
        try Store.validateVolumeName(name)
        return try withLock(Store.sessionsLock) { () throws(StoreError) in try ensureVolume(name) }
    }

    /// `createVolume` for callers that hold the sessions lock: a volume is created
    /// and removed under the same lock that creates sessions, so a session never
    /// records a volume that a concurrent `volume rm` is deleting.
    func ensureVolume(_ name: String) throws(StoreError) -> (volume: VolumeRecord, created: Bool) {
        if let existing = try readVolume(name) { return (existing, false) }
        let work = temporaryPath("volume-" + name)
        let record = VolumeRecord(name: name, created: Int64(time(nil)), path: volumePath(name))
        do throws(StoreError) {
            try io(try FileSystem.makeDirectory(work, mode: 0o700))
            try io(try FileSystem.makeDirectory(work + "/_data", mode: 0o755))
            try io(
                try FileSystem.createFile(
                    work + "/" + Store.volumeRecordFile, contents: Array(Store.encode(record).utf8), mode: 0o600))
            try io(try FileSystem.rename(work, to: record.path, durable: true))
        } catch {
            do throws(StoreError) { try io(try FileSystem.removeTree(work)) } catch {}
            throw error
        }
        return (record, true)
    }

    /// Fills the volume's data once (the first session that asks) with a copy of the tree
    /// `directories` show stacked bottom first (an environment's home directory, layer by
    /// layer), as Docker fills an empty named volume from the image; an `owner` then owns
    /// its top directory (mode 0700), which is where a non-root user's home is written.
    public func seedVolume(_ name: String, from directories: [String], owner: (uid: uid_t, gid: gid_t)?) throws(StoreError) {
        let marker = volumePath(name) + "/seeded"
        if FileSystem.exists(marker) { return }
        try withLock("volume-seed-" + name) { () throws(StoreError) in
            if FileSystem.exists(marker) { return }
            let data = volumeDataPath(name)
            if !directories.isEmpty { try copyMerged(directories, into: data) }
            if let owner {
                guard chown(data, owner.uid, owner.gid) == 0 else { throw StoreError.system(data, "chown") }
                guard chmod(data, 0o700) == 0 else { throw StoreError.system(data, "chmod") }
            }
            try io(try FileSystem.createFile(marker, contents: [], mode: 0o644, durable: false))
        }
    }

    /// The volume with this name, or nil if there is none.
    public func volume(named name: String) throws(StoreError) -> VolumeRecord? {
        try Store.validateVolumeName(name)
        return try readVolume(name)
    }

    /// Every volume, sorted by name.
    public func listVolumes() throws(StoreError) -> [VolumeRecord] {
        var volumes: [VolumeRecord] = []
        for name in try io(try Directory.names(root + "/volumes")) where !name.hasPrefix(".") {
            // A volume removed while we listed is simply gone.
            if let volume = try readVolume(name) { volumes.append(volume) }
        }
        return volumes.sorted { $0.name < $1.name }
    }

    /// The sessions whose record mounts the volume `name`, oldest first.
    public func sessions(usingVolume name: String) throws(StoreError) -> [SessionRecord] {
        try listSessions().filter { $0.volumes.contains(name) }
    }

    /// Removes the volume and its data. As Docker does, a volume that any session
    /// mounts (running or kept) is `volumeInUse`: `strata rm` those sessions first.
    public func removeVolume(_ name: String) throws(StoreError) {
        try Store.validateVolumeName(name)
        try withLock(Store.sessionsLock) { () throws(StoreError) in
            guard let volume = try readVolume(name) else { throw .noSuchVolume(name) }
            let users = try sessions(usingVolume: name)
            if !users.isEmpty {
                throw .volumeInUse(name, sessions: users.map { $0.name ?? $0.id }, running: users.contains(where: isRunning))
            }
            // Out of `volumes/` first, so that a crash mid-removal leaves only garbage in `tmp/`.
            let doomed = temporaryPath("volume-removed-" + name)
            try io(try FileSystem.rename(volume.path, to: doomed))
            try io(try FileSystem.removeTree(doomed))
        }
    }

    private func readVolume(_ name: String) throws(StoreError) -> VolumeRecord? {
        let directory = volumePath(name)
        let path = directory + "/" + Store.volumeRecordFile
        guard let bytes = try io(try FileSystem.readFile(path, limit: 64 << 10)) else {
            if FileSystem.exists(directory) { throw .corrupt(path: path, reason: "missing volume record") }
            return nil
        }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { throw .corrupt(path: path, reason: "not key=value: \(line)") }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard fields["name"] == name else { throw .corrupt(path: path, reason: "name is not \(name)") }
        guard let createdText = fields["created"], let created = Int64(createdText) else {
            throw .corrupt(path: path, reason: "created is missing or not a number")
        }
        return VolumeRecord(name: name, created: created, path: directory)
    }

    static func encode(_ volume: VolumeRecord) -> String {
        "name=\(volume.name)\ncreated=\(volume.created)\n"
    }

    static func validateVolumeName(_ name: String) throws(StoreError) {
        guard Manifest.Mount.isValidVolumeName(name) else {
            throw .invalidName(name, reason: "a volume name is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters")
        }
    }
}

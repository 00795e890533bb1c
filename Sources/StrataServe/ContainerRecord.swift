import Glibc
import StrataJSON
import StrataOCI
import StrataOS
import StrataStore

/// What the daemon keeps of a container beside its session: Docker's config as created
/// (`container.json`) and how its last run went (`container-state.json`). Both are files
/// in the session's directory, so they live and go with the session, and a daemon that
/// restarts finds them as it left them.
struct ContainerRecord: Sendable {
    var image: String
    var imageID: String
    var command: [String]
    var tty: Bool
    var openStdin: Bool
    var stdinOnce: Bool
    var autoRemove: Bool
    var config: [String: JSONValue]
    var hostConfig: [String: JSONValue]
    /// Nanoseconds since the epoch.
    var created: Int64

    static let file = "container.json"

    init(definition: ContainerDefinition, imageID: String, created: Int64) {
        image = definition.image
        self.imageID = imageID
        command = definition.command
        tty = definition.tty
        openStdin = definition.openStdin
        stdinOnce = definition.stdinOnce
        autoRemove = definition.autoRemove
        config = definition.config
        hostConfig = definition.hostConfig
        self.created = created
    }

    /// A session strata made without the daemon (`strata run --name`): its environment
    /// stands for the image, and it has no command of its own to start again.
    init(session: SessionRecord) {
        image = session.environment
        imageID = ""
        command = []
        tty = false
        openStdin = false
        stdinOnce = false
        autoRemove = false
        config = ["Image": .string(session.environment)]
        hostConfig = ["NetworkMode": .string("default"), "LogConfig": .object(["Type": .string("json-file"), "Config": .object([:])])]
        created = session.created * 1_000_000_000
    }

    var json: JSONValue {
        .object([
            "Image": .string(image), "ImageID": .string(imageID), "Command": .array(command.map(JSONValue.string)),
            "Tty": .bool(tty), "OpenStdin": .bool(openStdin), "StdinOnce": .bool(stdinOnce), "AutoRemove": .bool(autoRemove),
            "Config": .object(config), "HostConfig": .object(hostConfig), "Created": .int(created),
        ])
    }

    init?(json value: JSONValue) {
        guard case .object(let fields) = value, let image = fields["Image"]?.stringValue,
              let command = fields["Command"]?.arrayValue?.compactMap(\.stringValue) else { return nil }
        self.image = image
        imageID = fields["ImageID"]?.stringValue ?? ""
        self.command = command
        tty = fields["Tty"]?.boolValue ?? false
        openStdin = fields["OpenStdin"]?.boolValue ?? false
        stdinOnce = fields["StdinOnce"]?.boolValue ?? false
        autoRemove = fields["AutoRemove"]?.boolValue ?? false
        config = fields["Config"]?.objectValue ?? [:]
        hostConfig = fields["HostConfig"]?.objectValue ?? [:]
        created = fields["Created"]?.intValue ?? 0
    }

    /// The session's record, or the stand-in of a session made without the daemon. An
    /// unreadable file is said: the daemon cannot guess what the container was.
    static func read(_ session: SessionRecord) throws(APIError) -> ContainerRecord {
        let path = session.path + "/" + file
        let bytes: [UInt8]?
        do { bytes = try FileSystem.readFile(path, limit: 4 << 20) } catch {
            throw APIError(.internalServerError, "\(path): \(error.reason)")
        }
        guard let bytes else { return ContainerRecord(session: session) }
        guard let value = try? JSON.parse(bytes), let record = ContainerRecord(json: value) else {
            throw APIError(.internalServerError, "\(path) is not a container record strata wrote; remove the container (strata rm \(session.name ?? session.id))")
        }
        return record
    }

    func write(_ session: SessionRecord) throws(APIError) {
        let path = session.path + "/" + Self.file
        // A container removed when it ends (`--rm`) need not survive a power cut: no fsync.
        do { try HostFile.writeAtomically(JSON.compactBytes(json), to: path, durable: !autoRemove) } catch {
            throw APIError(.internalServerError, "\(path): \(error.reason)")
        }
    }
}

/// How a container's last run went, as inspect's `State` shows it.
struct ContainerRunState: Sendable {
    var exitCode: Int32 = 0
    var error: String = ""
    var startedAt: Int64 = 0
    var finishedAt: Int64 = 0
    var oomKilled = false
    var pid: Int32 = 0
    var everStarted: Bool { startedAt != 0 }

    static let file = "container-state.json"

    var json: JSONValue {
        .object([
            "ExitCode": .int(Int64(exitCode)), "Error": .string(error), "StartedAt": .int(startedAt),
            "FinishedAt": .int(finishedAt), "OOMKilled": .bool(oomKilled), "Pid": .int(Int64(pid)),
        ])
    }

    init() {}

    static func read(_ session: SessionRecord) -> ContainerRunState {
        var state = ContainerRunState()
        // Absent (never started) or torn by a crash mid-write (it is written atomically): a run never recorded.
        guard let bytes = try? FileSystem.readFile(session.path + "/" + file, limit: 1 << 20),
              case .object(let fields)? = try? JSON.parse(bytes) else { return state }
        state.exitCode = Int32(truncatingIfNeeded: fields["ExitCode"]?.intValue ?? 0)
        state.error = fields["Error"]?.stringValue ?? ""
        state.startedAt = fields["StartedAt"]?.intValue ?? 0
        state.finishedAt = fields["FinishedAt"]?.intValue ?? 0
        state.oomKilled = fields["OOMKilled"]?.boolValue ?? false
        state.pid = Int32(truncatingIfNeeded: fields["Pid"]?.intValue ?? 0)
        return state
    }

    /// Written when a run starts and when it ends. A session removed meanwhile has nowhere
    /// to keep it, and needs it no more.
    func write(_ session: SessionRecord) throws(SystemError) {
        let path = session.path + "/" + Self.file
        guard FileSystem.exists(session.path) else { return }
        // How a run went is worth no fsync twice a run: a crash may lose the latest, never tear it.
        do throws(SystemError) { try HostFile.writeAtomically(JSON.compactBytes(json), to: path, mode: 0o600, durable: false) } catch {
            if FileSystem.exists(session.path) { throw error }
        }
    }
}

/// Docker's times: RFC 3339 with nanoseconds, in UTC; the zero time for "never".
enum DockerTime {
    static let zero = "0001-01-01T00:00:00Z"

    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    static func format(_ nanoseconds: Int64) -> String {
        guard nanoseconds > 0 else { return zero }
        let seconds = ImageDocuments.timestamp(nanoseconds / 1_000_000_000)
        let fraction = String(nanoseconds % 1_000_000_000)
        return String(seconds.dropLast()) + "." + String(repeating: "0", count: 9 - fraction.count) + fraction + "Z"
    }

    /// "3 seconds", "2 minutes", "About an hour": as `docker ps` says how long ago.
    static func duration(since nanoseconds: Int64) -> String {
        let seconds = max(0, (now() - nanoseconds) / 1_000_000_000)
        if seconds < 1 { return "Less than a second" }
        if seconds < 60 { return "\(seconds) seconds" }
        let minutes = seconds / 60
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = minutes / 60
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        return "\(hours / 24) days"
    }
}

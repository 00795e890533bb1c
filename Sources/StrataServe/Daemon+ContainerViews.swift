import StrataJSON
import StrataOS
import StrataSessions
import StrataStore

/// Containers as Docker shows them: `GET /containers/json` and `GET /containers/{id}/json`.
/// Every session of the store is a container, those strata made without the daemon too.
extension Daemon {
    enum Status: String {
        case created, running, exited
    }

    func status(_ session: SessionRecord, running: Bool, state: ContainerRunState) -> Status {
        if running || container(session).isRunning { return .running }
        return state.everStarted ? .exited : .created
    }

    /// One row of `docker ps`.
    func summary(_ summary: SessionSummary) throws(APIError) -> JSONValue {
        let session = summary.record
        let record = try ContainerRecord.read(session)
        let state = ContainerRunState.read(session)
        let status = self.status(session, running: summary.running, state: state)
        let words: String
        switch status {
        case .running: words = "Up " + DockerTime.duration(since: state.startedAt > 0 ? state.startedAt : record.created)
        case .exited: words = "Exited (\(state.exitCode)) \(DockerTime.duration(since: state.finishedAt)) ago"
        case .created: words = "Created"
        }
        return .object([
            "Id": .string(session.id),
            "Names": .array([.string("/" + (session.name ?? session.id))]),
            "Image": .string(record.image),
            "ImageID": .string(record.imageID),
            "Command": .string(record.command.joined(separator: " ")),
            "Created": .int(record.created / 1_000_000_000),
            "State": .string(status.rawValue),
            "Status": .string(words),
            "Ports": .array([]),
            "Labels": record.config["Labels"] ?? .object([:]),
            "SizeRw": .int(summary.size),
            "SizeRootFs": .int(0),
            "HostConfig": .object(["NetworkMode": record.hostConfig["NetworkMode"] ?? .string("default")]),
            "NetworkSettings": .object(["Networks": .object([:])]),
            "Mounts": .array(mounts(record)),
        ])
    }

    /// `docker inspect CONTAINER`.
    func inspect(_ session: SessionRecord) throws(APIError) -> JSONValue {
        let record = try ContainerRecord.read(session)
        let state = ContainerRunState.read(session)
        let status = self.status(session, running: store.isRunning(session), state: state)
        var config = record.config
        config["Image"] = .string(record.image)
        for key in ["Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr"] where config[key] == nil {
            config[key] = .bool(false)
        }
        if config["Env"] == nil { config["Env"] = .array([]) }
        if config["Labels"] == nil { config["Labels"] = .object([:]) }
        if config["Hostname"] == nil || config["Hostname"] == .string("") { config["Hostname"] = .string("strata") }
        return .object([
            "Id": .string(session.id),
            "Created": .string(DockerTime.format(record.created)),
            "Path": .string(record.command.first ?? ""),
            "Args": .array(record.command.dropFirst().map(JSONValue.string)),
            "State": .object([
                "Status": .string(status.rawValue),
                "Running": .bool(status == .running),
                "Paused": .bool(false), "Restarting": .bool(false), "Dead": .bool(false),
                "OOMKilled": .bool(state.oomKilled),
                // The runner's: the process that holds the container (as conmon's is podman's).
                "Pid": .int(status == .running ? Int64(container(session).state.withLock { $0.run?.runnerPID ?? 0 }) : 0),
                "ExitCode": .int(Int64(state.exitCode)),
                "Error": .string(state.error),
                "StartedAt": .string(DockerTime.format(state.startedAt)),
                "FinishedAt": .string(DockerTime.format(state.finishedAt)),
            ]),
            "Image": .string(record.imageID),
            "Name": .string("/" + (session.name ?? session.id)),
            "RestartCount": .int(0),
            "Driver": .string("overlay"),
            "Platform": .string("linux"),
            "MountLabel": .string(""), "ProcessLabel": .string(""), "AppArmorProfile": .string(""),
            "LogPath": .string(session.path + "/" + SessionLog.file),
            "Config": .object(config),
            "HostConfig": .object(record.hostConfig),
            "Mounts": .array(mounts(record)),
            "NetworkSettings": .object(["Networks": .object([:]), "Ports": .object([:])]),
            "GraphDriver": .object(["Name": .string("overlay"), "Data": .object(["UpperDir": .string(session.upperPath)])]),
            "strata": .object(["Session": .string(session.id), "Environment": .string(session.environment)]),
        ])
    }

    /// `Mounts` as inspect shows them, from the container's binds and mounts.
    func mounts(_ record: ContainerRecord) -> [JSONValue] {
        var result: [JSONValue] = []
        for bind in record.hostConfig["Binds"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
            let parts = bind.split(separator: ":").map(String.init)
            guard parts.count >= 2 else { continue }
            let volume = !parts[0].hasPrefix("/")
            result.append(.object([
                "Type": .string(volume ? "volume" : "bind"), "Source": .string(volume ? store.root + "/volumes/" + parts[0] : parts[0]),
                "Destination": .string(parts[1]), "Name": volume ? .string(parts[0]) : .null,
                "RW": .bool(!(parts.count > 2 && parts[2].contains("ro"))), "Mode": .string(parts.count > 2 ? parts[2] : ""),
            ]))
        }
        for mount in record.hostConfig["Mounts"]?.arrayValue ?? [] {
            guard case .object(let fields) = mount else { continue }
            result.append(.object([
                "Type": fields["Type"] ?? .string("volume"), "Source": fields["Source"] ?? .string(""),
                "Destination": fields["Target"] ?? .string(""), "RW": .bool(!(fields["ReadOnly"]?.boolValue ?? false)),
            ]))
        }
        return result
    }

    /// `GET /containers/json`: running ones, or all with `all`; newest first. Filters
    /// Docker's clients send most: `id`, `name`, `label`, `status`.
    func list(all: Bool, filters: [String: [String]]) throws(APIError) -> JSONValue {
        let sessions: [SessionSummary]
        let engine = try self.engine()
        do { sessions = try engine.sessions.list() } catch { throw APIError(error) }
        var rows: [JSONValue] = []
        for summary in sessions {
            let row: JSONValue
            do { row = try self.summary(summary) } catch {
                // Removed between the listing and the reading.
                if !FileSystem.exists(summary.record.path) { continue }
                throw error
            }
            let state = row["State"]?.stringValue ?? ""
            if !all && state != "running" && filters["status"] == nil { continue }
            if let wanted = filters["status"], !wanted.contains(state) { continue }
            if let ids = filters["id"], !ids.contains(where: { summary.record.id.hasPrefix($0) }) { continue }
            if let names = filters["name"], !names.contains(where: { (summary.record.name ?? "").contains($0) }) { continue }
            if let labels = filters["label"] {
                let have = row["Labels"]?.objectValue ?? [:]
                let matches = labels.allSatisfy { label in
                    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                    guard let value = have[parts[0]]?.stringValue else { return false }
                    return parts.count == 1 || value == parts[1]
                }
                if !matches { continue }
            }
            rows.append(row)
        }
        return .array(rows)
    }

    /// Docker's `filters` query parameter: `{"name": ["web"]}` or the older `{"name": {"web": true}}`.
    static func filters(_ request: APIRequest) throws(APIError) -> [String: [String]] {
        guard let value = try request.jsonParameter("filters") else { return [:] }
        guard case .object(let fields) = value else { throw APIError(.badRequest, "filters must be a JSON object") }
        var result: [String: [String]] = [:]
        for (key, entry) in fields {
            switch entry {
            case .array(let items): result[key] = items.compactMap(\.stringValue)
            case .object(let set): result[key] = set.keys.sorted()
            default: throw APIError(.badRequest, "invalid filter \(key): give a list of values")
            }
        }
        return result
    }
}

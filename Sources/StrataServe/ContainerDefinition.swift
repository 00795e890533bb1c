import StrataJSON

/// A container as `POST /containers/create` describes it, mapped onto strata: the
/// session's manifest (a `from` image and the session settings), its command, and the
/// parts of Docker's config that strata keeps only to show them back (`inspect`).
///
/// Docker's Go decoder ignores fields it does not know, and so does this; a known field
/// of the wrong type is its 400, as is a setting strata cannot give (a bridge network's
/// published ports, `Privileged`).
struct ContainerDefinition: Sendable {
    /// The image as the client named it (`busybox`), and the store's tag it resolved to.
    var image: String
    var command: [String]
    var tty: Bool
    var openStdin: Bool
    var stdinOnce: Bool
    var autoRemove: Bool
    /// The `from` image and the session settings, as manifest fields.
    var manifest: [String: JSONValue]
    /// `Config` and `HostConfig` as given, the command filled in: what inspect shows.
    var config: [String: JSONValue]
    var hostConfig: [String: JSONValue]
    var warnings: [String]

    /// Reads the create body. `imageConfig` is the image's own config (`Entrypoint`,
    /// `Cmd`): Docker's rule is that an entrypoint given drops the image's cmd.
    init(body: [String: JSONValue], storeReference: String, imageConfig: [String: JSONValue]) throws(APIError) {
        let reader = FieldReader()
        image = try reader.string(body, "Image") ?? ""
        var config = body
        for key in ["HostConfig", "NetworkingConfig"] { config.removeValue(forKey: key) }
        let hostConfig = try reader.object(body, "HostConfig") ?? [:]

        let entrypoint = try reader.words(body, "Entrypoint")
        let cmd = try reader.words(body, "Cmd")
        let imageEntrypoint = try reader.words(imageConfig, "Entrypoint")
        let imageCmd = try reader.words(imageConfig, "Cmd")
        let chosenEntrypoint = entrypoint ?? imageEntrypoint ?? []
        let chosenCmd = cmd ?? (entrypoint != nil ? [] : imageCmd ?? [])
        command = chosenEntrypoint + chosenCmd
        guard !command.isEmpty else { throw APIError(.badRequest, "no command specified") }
        config["Cmd"] = .array(chosenCmd.map(JSONValue.string))
        config["Entrypoint"] = chosenEntrypoint.isEmpty ? .null : .array(chosenEntrypoint.map(JSONValue.string))

        tty = try reader.bool(body, "Tty") ?? false
        openStdin = try reader.bool(body, "OpenStdin") ?? false
        stdinOnce = try reader.bool(body, "StdinOnce") ?? false
        autoRemove = try reader.bool(hostConfig, "AutoRemove") ?? false
        warnings = []

        var manifest: [String: JSONValue] = ["from": .object(["image": .string(storeReference)])]
        if let env = try reader.strings(body, "Env"), !env.isEmpty {
            var variables: [String: JSONValue] = [:]
            for entry in env {
                guard let equals = entry.firstIndex(of: "=") else { continue }
                variables[String(entry[..<equals])] = .string(String(entry[entry.index(after: equals)...]))
            }
            manifest["env"] = .object(variables)
        }
        if let workdir = try reader.string(body, "WorkingDir"), !workdir.isEmpty { manifest["workdir"] = .string(workdir) }
        if let user = try reader.string(body, "User"), !user.isEmpty { manifest["user"] = .string(user) }
        if let hostname = try reader.string(body, "Hostname"), !hostname.isEmpty { manifest["hostname"] = .string(hostname) }
        if let labels = try reader.object(body, "Labels"), !labels.isEmpty { manifest["labels"] = .object(labels) }

        switch try reader.string(hostConfig, "NetworkMode") ?? "default" {
        case "none": manifest["network"] = .string("none")
        case "host": manifest["network"] = .string("host")
        case "", "default", "bridge":
            // strata has no bridge networks: a session shares the host's (as --network host).
            manifest["network"] = .string("host")
            if let ports = try reader.object(hostConfig, "PortBindings"), !ports.isEmpty {
                throw APIError(.badRequest, "strata publishes no ports: a container shares the host's network, so its ports are the host's already; drop -p")
            }
        case let other:
            throw APIError(.notFound, "network \(other) not found: strata's containers take --network none or host")
        }
        if try reader.bool(hostConfig, "Privileged") == true {
            throw APIError(.badRequest, "strata runs no privileged containers; add the capabilities the command needs with --cap-add")
        }

        var mounts: [JSONValue] = []
        for bind in try reader.strings(hostConfig, "Binds") ?? [] { mounts.append(try Self.bind(bind)) }
        for (index, mount) in (try reader.array(hostConfig, "Mounts") ?? []).enumerated() {
            mounts.append(try Self.mount(mount, index: index))
        }
        if let tmpfs = try reader.object(hostConfig, "Tmpfs") {
            for target in tmpfs.keys.sorted() { mounts.append(.object(["type": .string("tmpfs"), "target": .string(target)])) }
        }
        if !mounts.isEmpty { manifest["mounts"] = .array(mounts) }

        var security: [String: JSONValue] = [:]
        var capabilities: [String: JSONValue] = [:]
        if let add = try reader.strings(hostConfig, "CapAdd"), !add.isEmpty { capabilities["add"] = .array(add.map(JSONValue.string)) }
        if let drop = try reader.strings(hostConfig, "CapDrop"), !drop.isEmpty { capabilities["drop"] = .array(drop.map(JSONValue.string)) }
        if !capabilities.isEmpty { security["capabilities"] = .object(capabilities) }
        for option in try reader.strings(hostConfig, "SecurityOpt") ?? [] {
            // Docker accepts `key=value` and the older `key:value`.
            let separator = option.firstIndex(where: { $0 == "=" || $0 == ":" })
            let key = separator.map { String(option[..<$0]) } ?? option
            let value = separator.map { String(option[option.index(after: $0)...]) }
            switch (key, value) {
            case ("seccomp", "unconfined"?): security["seccomp"] = .string("unconfined")
            case ("no-new-privileges", nil), ("no-new-privileges", "true"?): security["noNewPrivileges"] = .bool(true)
            case ("no-new-privileges", "false"?): security["noNewPrivileges"] = .bool(false)
            default:
                throw APIError(.badRequest, "security option \(option) is not one strata takes: seccomp=unconfined or no-new-privileges[=true|false]")
            }
        }
        if try reader.bool(hostConfig, "ReadonlyRootfs") == true { security["readonlyRoot"] = .bool(true) }
        if !security.isEmpty { manifest["security"] = .object(security) }

        var limits: [String: JSONValue] = [:]
        if let memory = try reader.int(hostConfig, "Memory"), memory > 0 { limits["memory"] = .int(memory) }
        if let pids = try reader.int(hostConfig, "PidsLimit"), pids > 0 { limits["pids"] = .int(pids) }
        if let nanoCPUs = try reader.int(hostConfig, "NanoCpus"), nanoCPUs > 0 { limits["cpus"] = .double(Double(nanoCPUs) / 1e9) }
        if !limits.isEmpty { manifest["limits"] = .object(limits) }

        self.manifest = manifest
        self.config = config
        var shown = hostConfig
        shown["LogConfig"] = .object(["Type": .string("json-file"), "Config": .object([:])])
        if shown["NetworkMode"] == nil { shown["NetworkMode"] = .string("default") }
        self.hostConfig = shown
    }

    /// `SOURCE:TARGET[:OPTIONS]`: an absolute source binds a host path, a name mounts a volume.
    static func bind(_ spec: String) throws(APIError) -> JSONValue {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
            throw APIError(.badRequest, "invalid volume specification: '\(spec)': give SOURCE:TARGET[:ro], TARGET an absolute path")
        }
        let options = parts.count == 3 ? parts[2].split(separator: ",").map(String.init) : []
        let readOnly = options.contains("ro")
        if parts[0].hasPrefix("/") {
            return .object(["type": .string("bind"), "source": .string(parts[0]), "target": .string(parts[1]), "readonly": .bool(readOnly)])
        }
        if readOnly { throw APIError(.badRequest, "invalid volume specification: '\(spec)': strata mounts volumes read-write") }
        return .object(["type": .string("volume"), "name": .string(parts[0]), "target": .string(parts[1])])
    }

    /// One of `HostConfig.Mounts`: `{"Type": "bind"|"volume"|"tmpfs", "Source", "Target", "ReadOnly"}`.
    static func mount(_ value: JSONValue, index: Int) throws(APIError) -> JSONValue {
        guard case .object(let fields) = value else { throw APIError(.badRequest, "HostConfig.Mounts[\(index)] is not an object") }
        let reader = FieldReader()
        let type = try reader.string(fields, "Type") ?? "volume"
        let source = try reader.string(fields, "Source") ?? ""
        guard let target = try reader.string(fields, "Target"), target.hasPrefix("/") else {
            throw APIError(.badRequest, "invalid mount config: HostConfig.Mounts[\(index)] needs an absolute Target")
        }
        let readOnly = try reader.bool(fields, "ReadOnly") ?? false
        switch type {
        case "bind":
            guard source.hasPrefix("/") else { throw APIError(.badRequest, "invalid mount config for type \"bind\": the source must be an absolute path") }
            return .object(["type": .string("bind"), "source": .string(source), "target": .string(target), "readonly": .bool(readOnly)])
        case "volume":
            guard !source.isEmpty else { throw APIError(.badRequest, "invalid mount config for type \"volume\": strata's volumes have names; give Source") }
            if readOnly { throw APIError(.badRequest, "invalid mount config for type \"volume\": strata mounts volumes read-write") }
            return .object(["type": .string("volume"), "name": .string(source), "target": .string(target)])
        case "tmpfs":
            return .object(["type": .string("tmpfs"), "target": .string(target)])
        default:
            throw APIError(.badRequest, "invalid mount config: mount type \"\(type)\" is not bind, volume or tmpfs")
        }
    }
}

/// Reads Docker's JSON fields with Go's rules: absent or null is nil, the wrong type is a 400
/// naming the field (as `json: cannot unmarshal … into Go struct field …` does).
struct FieldReader {
    func string(_ object: [String: JSONValue], _ key: String) throws(APIError) -> String? {
        guard let value = present(object, key) else { return nil }
        guard case .string(let text) = value else { throw mismatch(key, value, "string") }
        return text
    }

    func bool(_ object: [String: JSONValue], _ key: String) throws(APIError) -> Bool? {
        guard let value = present(object, key) else { return nil }
        guard case .bool(let flag) = value else { throw mismatch(key, value, "bool") }
        return flag
    }

    func int(_ object: [String: JSONValue], _ key: String) throws(APIError) -> Int64? {
        guard let value = present(object, key) else { return nil }
        guard let number = value.intValue else { throw mismatch(key, value, "int64") }
        return number
    }

    func object(_ object: [String: JSONValue], _ key: String) throws(APIError) -> [String: JSONValue]? {
        guard let value = present(object, key) else { return nil }
        guard case .object(let fields) = value else { throw mismatch(key, value, "object") }
        return fields
    }

    func array(_ object: [String: JSONValue], _ key: String) throws(APIError) -> [JSONValue]? {
        guard let value = present(object, key) else { return nil }
        guard case .array(let items) = value else { throw mismatch(key, value, "array") }
        return items
    }

    func strings(_ object: [String: JSONValue], _ key: String) throws(APIError) -> [String]? {
        guard let items = try array(object, key) else { return nil }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw mismatch(key, item, "[]string") }
            result.append(text)
        }
        return result
    }

    /// `Cmd` and `Entrypoint`: an array of strings, or one string (Docker's StrSlice).
    func words(_ object: [String: JSONValue], _ key: String) throws(APIError) -> [String]? {
        guard let value = present(object, key) else { return nil }
        if case .string(let text) = value { return [text] }
        return try strings(object, key)
    }

    private func present(_ object: [String: JSONValue], _ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    private func mismatch(_ key: String, _ value: JSONValue, _ type: String) -> APIError {
        APIError(.badRequest, "json: cannot unmarshal \(value.typeName) into Go struct field .\(key) of type \(type)")
    }
}

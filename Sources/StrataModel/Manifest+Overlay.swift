import StrataJSON

extension Manifest {
    /// The fields a session's own settings may change (`docker run`'s flags): never what
    /// the lockfile pins.
    public static let sessionFields: Set<String> = ["env", "workdir", "hostname", "network", "mounts", "user", "security", "limits"]

    /// A fragment of a manifest holding only `sessionFields`, checked exactly as a
    /// manifest's fields are (the same decoder, so `--memory 5x` and `"limits": {"memory":
    /// "5x"}` are refused with the same words). `source` names it in errors.
    public static func decodeOverlay(_ value: JSONValue, source: String) throws(ManifestError) -> Manifest {
        if case .object(let fields) = value, let other = fields.keys.sorted().first(where: { !sessionFields.contains($0) }) {
            throw ManifestError(file: source, location: SourceLocation(line: 1, column: 1), path: JSONPath.root.appending(other),
                                problem: "is not a setting of one session")
        }
        return try decode(JSON.compactBytes(value), file: source)
    }

    /// This manifest with `overlay`'s settings over its own, for one session: variables are
    /// merged (the overlay's win), a mount on a target the manifest mounts replaces it,
    /// capabilities are added and dropped on top of the manifest's, and every other setting
    /// the overlay gives replaces the manifest's.
    public func overriding(with overlay: Manifest) -> Manifest {
        var result = self
        let given = overlay.writtenFields
        result.env.merge(overlay.env) { $1 }
        if given.contains("workdir") { result.workdir = overlay.workdir }
        if given.contains("hostname") { result.hostname = overlay.hostname }
        if given.contains("network") { result.network = overlay.network }
        if given.contains("user") { result.user = overlay.user }
        for mount in overlay.mounts {
            result.mounts.removeAll { $0.target == mount.target }
            result.mounts.append(mount)
        }
        if let flags = overlay.security {
            var security = result.security ?? Security()
            security.capabilitiesAdd = Self.merged(security.capabilitiesAdd, adding: flags.capabilitiesAdd, removing: flags.capabilitiesDrop)
            security.capabilitiesDrop = Self.merged(security.capabilitiesDrop, adding: flags.capabilitiesDrop, removing: flags.capabilitiesAdd)
            if let seccomp = flags.seccomp { security.seccomp = seccomp }
            if let flag = flags.noNewPrivileges { security.noNewPrivileges = flag }
            if let flag = flags.readonlyRoot { security.readonlyRoot = flag }
            result.security = security
        }
        if let flags = overlay.limits {
            var limits = result.limits ?? Limits()
            if let memory = flags.memoryBytes { limits.memoryBytes = memory }
            if let pids = flags.pids { limits.pids = pids }
            if let cpus = flags.cpus { limits.cpus = cpus }
            if let nofile = flags.nofile { limits.nofile = nofile }
            result.limits = limits
        }
        return result
    }

    /// `list` with `adding` added and `removing` taken out (a flag's `--cap-add X` undoes the
    /// manifest's drop of X, as the last word on the command line wins in Docker).
    static func merged(_ list: CapabilityList, adding: CapabilityList, removing: CapabilityList) -> CapabilityList {
        if case .all = adding { return .all }
        if case .all = removing { return .only([]) }
        guard case .only(var names) = list else { return list }
        if case .only(let added) = adding { for name in added where !names.contains(name) { names.append(name) } }
        if case .only(let removed) = removing { names.removeAll { removed.contains($0) } }
        return .only(names)
    }
}

extension Manifest.Mount {
    /// The path in the environment it mounts on.
    public var target: String {
        switch self {
        case .bind(_, let target, _), .tmpfs(let target), .volume(_, let target): return target
        }
    }
}

import StrataJSON

/// A lockfile that cannot be read: which file, where in it, and why.
public struct LockfileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var path: JSONPath
    public var problem: String
    public init(file: String, path: JSONPath, problem: String) { self.file = file; self.path = path; self.problem = problem }
    public var description: String { "\(file): \(path): \(problem)" }
}

extension Lockfile {
    /// The canonical bytes: sorted keys, two-space indent, final newline.
    public func encoded() -> [UInt8] { JSON.canonicalBytes(jsonValue) }

    var jsonValue: JSONValue {
        var fields: [String: JSONValue] = [
            "lockfileVersion": .int(version),
            "manifest": .string(manifestDigest.description),
            "platform": .object(["os": .string(platform.os), "architecture": .string(platform.architecture)]),
            "base": base.jsonValue,
            "layers": .array(steps.map(\.jsonValue)),
        ]
        if let parent {
            fields["extends"] = .object(["env": .string(parent.reference), "lockfile": .string(parent.lockfile.description)])
        }
        return .object(fields)
    }

    /// Reads a lockfile; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(LockfileError) -> Lockfile {
        let value: JSONValue
        do { value = try JSON.parse(bytes) } catch {
            throw LockfileError(file: file, path: .root, problem: "is not valid JSON (\(error))")
        }
        let reader = LockReader(file: file)
        let root = try reader.object(value, .root)
        let version = try reader.int(root, "lockfileVersion", .root)
        guard version == Lockfile.currentVersion else {
            throw LockfileError(file: file, path: JSONPath.root.appending("lockfileVersion"),
                                problem: "version \(version) is not one this strata reads (\(Lockfile.currentVersion))")
        }
        let platformPath = JSONPath.root.appending("platform")
        let platform = try reader.object(reader.field(root, "platform", .root), platformPath)
        let basePath = JSONPath.root.appending("base")
        let layersPath = JSONPath.root.appending("layers")
        guard case .array(let rawLayers) = try reader.field(root, "layers", .root) else {
            throw LockfileError(file: file, path: layersPath, problem: "is not an array")
        }
        var steps: [LockedStep] = []
        for (index, raw) in rawLayers.enumerated() {
            steps.append(try LockedStep.decode(raw, reader: reader, path: layersPath.appending(index)))
        }
        return Lockfile(
            version: version,
            manifestDigest: try reader.digest(root, "manifest", .root),
            platform: Platform(os: try reader.string(platform, "os", platformPath),
                               architecture: try reader.string(platform, "architecture", platformPath)),
            base: try LockedBase.decode(reader.field(root, "base", .root), reader: reader, path: basePath),
            steps: steps,
            parent: try root["extends"].map { value throws(LockfileError) in
                let path = JSONPath.root.appending("extends")
                let fields = try reader.object(value, path)
                return LockedParent(reference: try reader.string(fields, "env", path), lockfile: try reader.digest(fields, "lockfile", path))
            })
    }
}

extension LockedBase {
    var jsonValue: JSONValue {
        switch self {
        case .scratch:
            return .object(["type": .string("scratch")])
        case .image(let reference, let manifestDigest, let config, let registry):
            var defaults: [String: JSONValue] = ["env": .array(config.env.map(JSONValue.string))]
            if let dir = config.workingDir { defaults["workingDir"] = .string(dir) }
            if let entrypoint = config.entrypoint { defaults["entrypoint"] = .array(entrypoint.map(JSONValue.string)) }
            if let cmd = config.cmd { defaults["cmd"] = .array(cmd.map(JSONValue.string)) }
            if let user = config.user { defaults["user"] = .string(user) }
            if !config.labels.isEmpty { defaults["labels"] = .object(config.labels.mapValues(JSONValue.string)) }
            var fields: [String: JSONValue] = [
                "type": .string("image"), "reference": .string(reference),
                "manifest": .string(manifestDigest.description), "config": .object(defaults),
            ]
            if let registry {
                var pin: [String: JSONValue] = ["repository": .string(registry.repository)]
                if let index = registry.index { pin["index"] = .string(index.description) }
                fields["registry"] = .object(pin)
            }
            return .object(fields)
        case .debian(let debian):
            return debian.jsonValue
        }
    }

    static func labels(_ value: JSONValue?, _ path: JSONPath, _ reader: LockReader) throws(LockfileError) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let members) = value else {
            throw LockfileError(file: reader.file, path: path, problem: "is not an object of strings")
        }
        var labels: [String: String] = [:]
        for (key, item) in members {
            guard case .string(let text) = item else {
                throw LockfileError(file: reader.file, path: path.appending(key), problem: "is not a string")
            }
            labels[key] = text
        }
        return labels
    }

    static func decode(_ value: JSONValue, reader: LockReader, path: JSONPath) throws(LockfileError) -> LockedBase {
        let fields = try reader.object(value, path)
        switch try reader.string(fields, "type", path) {
        case "scratch":
            return .scratch
        case "image":
            let configPath = path.appending("config")
            let config = try reader.object(reader.field(fields, "config", path), configPath)
            return .image(
                reference: try reader.string(fields, "reference", path),
                manifestDigest: try reader.digest(fields, "manifest", path),
                config: ImageDefaults(
                    env: try reader.strings(config, "env", configPath) ?? [],
                    workingDir: config["workingDir"] == nil ? nil : try reader.string(config, "workingDir", configPath),
                    entrypoint: try reader.strings(config, "entrypoint", configPath),
                    cmd: try reader.strings(config, "cmd", configPath),
                    user: config["user"] == nil ? nil : try reader.string(config, "user", configPath),
                    labels: try labels(config["labels"], configPath.appending("labels"), reader)),
                registry: try fields["registry"].map { value throws(LockfileError) in
                    let pinPath = path.appending("registry")
                    let pin = try reader.object(value, pinPath)
                    return RegistryPin(repository: try reader.string(pin, "repository", pinPath),
                                       index: pin["index"] == nil ? nil : try reader.digest(pin, "index", pinPath))
                })
        case "debian":
            return .debian(try LockedDebian.decode(fields, reader: reader, path: path))
        case let other:
            throw LockfileError(file: reader.file, path: path.appending("type"), problem: "unknown base type \"\(other)\"")
        }
    }
}

extension LockedStep {
    var jsonValue: JSONValue {
        switch self {
        case .layer(let layer): return layer.jsonValue
        case .run(let run):
            var source: [String: JSONValue] = ["type": .string("run"), "network": .string(run.network.rawValue)]
            switch run.command {
            case .shell(let script): source["run"] = .string(script)
            case .argv(let argv): source["run"] = .array(argv.map(JSONValue.string))
            }
            if !run.env.isEmpty { source["env"] = .object(run.env.mapValues(JSONValue.string)) }
            if let workdir = run.workdir { source["workdir"] = .string(workdir) }
            if let user = run.user { source["user"] = .string(user) }
            if !run.cache.isEmpty { source["cache"] = .array(run.cache.map(JSONValue.string)) }
            // A step with the host's network may fetch what the lock does not pin.
            return .object(["source": .object(source), "reproducible": .bool(run.network == .none)])
        }
    }

    static func decode(_ value: JSONValue, reader: LockReader, path: JSONPath) throws(LockfileError) -> LockedStep {
        let fields = try reader.object(value, path)
        let sourcePath = path.appending("source")
        let source = try reader.object(reader.field(fields, "source", path), sourcePath)
        guard case .string("run") = source["type"] else { return .layer(try LockedLayer.decode(value, reader: reader, path: path)) }
        let command: Manifest.RunStep.Command
        switch try reader.field(source, "run", sourcePath) {
        case .string(let script): command = .shell(script)
        case .array: command = .argv(try reader.strings(source, "run", sourcePath) ?? [])
        default: throw reader.fail(sourcePath.appending("run"), "is not a command")
        }
        guard let network = Manifest.Network(rawValue: try reader.string(source, "network", sourcePath)) else {
            throw reader.fail(sourcePath.appending("network"), "is not \"none\" or \"host\"")
        }
        return .run(Manifest.RunStep(
            command: command,
            env: try LockedBase.labels(source["env"], sourcePath.appending("env"), reader),
            workdir: source["workdir"] == nil ? nil : try reader.string(source, "workdir", sourcePath),
            user: source["user"] == nil ? nil : try reader.string(source, "user", sourcePath),
            network: network,
            cache: try reader.strings(source, "cache", sourcePath) ?? []))
    }
}

extension LockedLayer {
    var jsonValue: JSONValue {
        let source: JSONValue = switch self.source {
        case .image(let reference): .object(["type": .string("image"), "reference": .string(reference)])
        case .copy(let from, let to): .object(["type": .string("copy"), "from": .string(from), "to": .string(to)])
        case .tar(let path): .object(["type": .string("tar"), "path": .string(path)])
        }
        return .object([
            "source": source, "digest": .string(digest.description),
            "diffID": .string(diffID.description), "size": .int(size),
        ])
    }

    static func decode(_ value: JSONValue, reader: LockReader, path: JSONPath) throws(LockfileError) -> LockedLayer {
        let fields = try reader.object(value, path)
        let sourcePath = path.appending("source")
        let sourceFields = try reader.object(reader.field(fields, "source", path), sourcePath)
        let source: Source
        switch try reader.string(sourceFields, "type", sourcePath) {
        case "image": source = .image(reference: try reader.string(sourceFields, "reference", sourcePath))
        case "copy": source = .copy(from: try reader.string(sourceFields, "from", sourcePath),
                                    to: try reader.string(sourceFields, "to", sourcePath))
        case "tar": source = .tar(path: try reader.string(sourceFields, "path", sourcePath))
        case let other:
            throw LockfileError(file: reader.file, path: sourcePath.appending("type"), problem: "unknown layer source \"\(other)\"")
        }
        return LockedLayer(source: source, digest: try reader.digest(fields, "digest", path),
                           diffID: try reader.digest(fields, "diffID", path), size: try reader.int(fields, "size", path))
    }
}

/// Typed field access that names the lockfile path in every error.
struct LockReader {
    let file: String

    func fail(_ path: JSONPath, _ problem: String) -> LockfileError { LockfileError(file: file, path: path, problem: problem) }

    func object(_ value: JSONValue, _ path: JSONPath) throws(LockfileError) -> [String: JSONValue] {
        guard case .object(let fields) = value else { throw fail(path, "is not an object") }
        return fields
    }

    func field(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> JSONValue {
        guard let value = fields[key] else { throw fail(path.appending(key), "is missing") }
        return value
    }

    func string(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> String {
        guard case .string(let text) = try field(fields, key, path) else { throw fail(path.appending(key), "is not a string") }
        return text
    }

    func int(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> Int64 {
        guard case .int(let number) = try field(fields, key, path) else { throw fail(path.appending(key), "is not an integer") }
        return number
    }

    func digest(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> Digest {
        let text = try string(fields, key, path)
        do { return try Digest(parsing: text) } catch {
            throw fail(path.appending(key), "\"\(text)\" is not a sha256 digest")
        }
    }

    func bool(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> Bool {
        guard case .bool(let flag) = try field(fields, key, path) else { throw fail(path.appending(key), "is not true or false") }
        return flag
    }

    func array(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> [JSONValue] {
        guard case .array(let items) = try field(fields, key, path) else { throw fail(path.appending(key), "is not an array") }
        return items
    }

    func strings(_ fields: [String: JSONValue], _ key: String, _ path: JSONPath) throws(LockfileError) -> [String]? {
        guard let value = fields[key] else { return nil }
        guard case .array(let items) = value else { throw fail(path.appending(key), "is not an array") }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else { throw fail(path.appending(key).appending(index), "is not a string") }
            out.append(text)
        }
        return out
    }
}

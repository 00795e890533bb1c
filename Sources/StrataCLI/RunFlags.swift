import Glibc
import StrataEnvironment
import StrataJSON
import StrataModel
import StrataOS

/// `docker run`'s everyday flags as `strata run` and `strata shell` take them, collected as
/// written and turned into a manifest fragment (`Manifest.decodeOverlay`), so each is
/// checked exactly as the manifest's own setting is and applies to one session only: the
/// lockfile never sees them.
struct RunFlags: Sendable {
    var env: [String] = []
    var envFiles: [String] = []
    var volumes: [String] = []
    var mounts: [String] = []
    var tmpfs: [String] = []
    var workdir: String?
    var user: String?
    var network: String?
    var hostname: String?
    var capAdd: [String] = []
    var capDrop: [String] = []
    var securityOpts: [String] = []
    var readOnly = false
    var memory: String?
    var pidsLimit: String?
    var cpus: String?

    var isEmpty: Bool {
        env.isEmpty && envFiles.isEmpty && volumes.isEmpty && mounts.isEmpty && tmpfs.isEmpty && workdir == nil && user == nil
            && network == nil && hostname == nil && capAdd.isEmpty && capDrop.isEmpty && securityOpts.isEmpty && !readOnly
            && memory == nil && pidsLimit == nil && cpus == nil
    }

    /// The options, for `RunCommandLine`'s table.
    static func options<Line>(_ flags: WritableKeyPath<Line, RunFlags> & Sendable) -> [CommandLineOption<Line>] {
        typealias Option = CommandLineOption<Line>
        return [
            Option(name: "env", value: "KEY[=VALUE]", help: "Set a variable (KEY alone: the caller's value).", short: "e") { $0[keyPath: flags].env.append($1) },
            Option(name: "env-file", value: "FILE", help: "Set the variables of a file of KEY=VALUE lines.") { $0[keyPath: flags].envFiles.append($1) },
            Option(name: "volume", value: "SRC:DST[:ro]", help: "Bind a host path (absolute or ./…), or mount a named volume.", short: "v") {
                $0[keyPath: flags].volumes.append($1)
            },
            Option(name: "mount", value: "SPEC", help: "type=bind|volume|tmpfs,source=…,target=…[,readonly], as docker's.") { $0[keyPath: flags].mounts.append($1) },
            Option(name: "tmpfs", value: "PATH", help: "Mount a tmpfs.") { $0[keyPath: flags].tmpfs.append($1) },
            Option(name: "workdir", value: "DIR", help: "Start in DIR.", short: "w") { $0[keyPath: flags].workdir = $1 },
            Option(name: "user", value: "USER[:GROUP]", help: "Run as this user (names or ids).", short: "u") { $0[keyPath: flags].user = $1 },
            Option(name: "network", value: "MODE", help: "none or host.") { $0[keyPath: flags].network = $1 },
            Option(name: "hostname", value: "NAME", help: "The session's host name.") { $0[keyPath: flags].hostname = $1 },
            Option(name: "cap-add", value: "CAP", help: "Add a capability (or ALL).") { $0[keyPath: flags].capAdd.append($1) },
            Option(name: "cap-drop", value: "CAP", help: "Drop a capability (or ALL).") { $0[keyPath: flags].capDrop.append($1) },
            Option(name: "security-opt", value: "OPT", help: "seccomp=unconfined|PATH, or no-new-privileges[=false].") {
                $0[keyPath: flags].securityOpts.append($1)
            },
            Option(name: "read-only", value: nil, help: "Mount the session's root read-only.") { line, _ in line[keyPath: flags].readOnly = true },
            Option(name: "memory", value: "SIZE", help: "Limit memory (512m, 2g).", short: "m") { $0[keyPath: flags].memory = $1 },
            Option(name: "pids-limit", value: "N", help: "Limit the number of processes.") { $0[keyPath: flags].pidsLimit = $1 },
            Option(name: "cpus", value: "N", help: "Limit CPU time (1.5 CPUs).") { $0[keyPath: flags].cpus = $1 },
        ]
    }

    /// The flags as a manifest fragment; nil when none was given. Relative bind sources are
    /// resolved against `workingDirectory`; `-e KEY` takes the caller's value from `lookup`.
    func overlay(workingDirectory: String, lookup: (String) -> String?) throws(StrataError) -> Manifest? {
        if isEmpty { return nil }
        var fields: [String: JSONValue] = [:]
        /// Which flag wrote each part of the fragment, for the error about it.
        var written: [(path: String, flag: String)] = []

        var variables: [String: JSONValue] = [:]
        for file in envFiles {
            let bytes: [UInt8]
            do { bytes = try HostFile.read(Self.absolute(file, workingDirectory), limit: 1 << 20) } catch {
                throw .usage("--env-file \(file): \(error.reason)")
            }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
                let text = line.drop { $0 == " " || $0 == "\t" }
                if text.isEmpty || text.hasPrefix("#") { continue }
                try Self.variable(String(text), from: "--env-file \(file)", into: &variables, lookup: lookup)
            }
        }
        for entry in env { try Self.variable(entry, from: "-e \(entry)", into: &variables, lookup: lookup) }
        if !variables.isEmpty {
            fields["env"] = .object(variables)
            written.append(("env", "-e"))
        }

        var mountList: [JSONValue] = []
        for spec in volumes {
            written.append(("mounts[\(mountList.count)]", "-v \(spec)"))
            mountList.append(try Self.volume(spec, workingDirectory: workingDirectory))
        }
        for spec in mounts {
            written.append(("mounts[\(mountList.count)]", "--mount \(spec)"))
            mountList.append(try Self.mount(spec, workingDirectory: workingDirectory))
        }
        for path in tmpfs {
            written.append(("mounts[\(mountList.count)]", "--tmpfs \(path)"))
            if path.contains(":") { throw .usage("--tmpfs \(path): tmpfs options are not taken; give the path alone") }
            mountList.append(.object(["type": .string("tmpfs"), "target": .string(path)]))
        }
        if !mountList.isEmpty { fields["mounts"] = .array(mountList) }

        for (key, value, flag) in [("workdir", workdir, "-w"), ("user", user, "-u"), ("network", network, "--network"), ("hostname", hostname, "--hostname")] {
            guard let value else { continue }
            fields[key] = .string(value)
            written.append((key, "\(flag) \(value)"))
        }

        var security: [String: JSONValue] = [:]
        var capabilities: [String: JSONValue] = [:]
        if !capAdd.isEmpty {
            capabilities["add"] = .array(capAdd.map(JSONValue.string))
            written.append(("security.capabilities.add", "--cap-add"))
        }
        if !capDrop.isEmpty {
            capabilities["drop"] = .array(capDrop.map(JSONValue.string))
            written.append(("security.capabilities.drop", "--cap-drop"))
        }
        if !capabilities.isEmpty { security["capabilities"] = .object(capabilities) }
        for option in securityOpts {
            let (key, value) = Self.split(option, "=")
            switch key {
            case "seccomp":
                guard let value, !value.isEmpty else { throw .usage("--security-opt seccomp needs a value: seccomp=unconfined or seccomp=PATH") }
                security["seccomp"] = .string(value == "unconfined" ? value : Self.absolute(value, workingDirectory))
                written.append(("security.seccomp", "--security-opt \(option)"))
            case "no-new-privileges":
                guard value == nil || value == "true" || value == "false" else {
                    throw .usage("--security-opt \(option): no-new-privileges takes true or false")
                }
                security["noNewPrivileges"] = .bool(value != "false")
            default:
                throw .usage("--security-opt \(option) is not one strata takes: seccomp=unconfined, seccomp=PATH or no-new-privileges[=false]")
            }
        }
        if readOnly { security["readonlyRoot"] = .bool(true) }
        if !security.isEmpty { fields["security"] = .object(security) }

        var limits: [String: JSONValue] = [:]
        if let memory {
            // Docker's --memory takes bytes as a bare number too; the manifest reads that as a JSON number.
            limits["memory"] = memory.allSatisfy(\.isNumber) && !memory.isEmpty ? .int(Int64(memory) ?? -1) : .string(memory)
            written.append(("limits.memory", "--memory \(memory)"))
        }
        if let pidsLimit {
            // Docker's -1 and 0 mean "no limit".
            if pidsLimit != "-1" && pidsLimit != "0" {
                guard let number = Int64(pidsLimit) else { throw .usage("--pids-limit \(pidsLimit): not a whole number") }
                limits["pids"] = .int(number)
            }
            written.append(("limits.pids", "--pids-limit \(pidsLimit)"))
        }
        if let cpus {
            guard let number = Double(cpus) else { throw .usage("--cpus \(cpus): not a number of CPUs, such as 1.5") }
            limits["cpus"] = .double(number)
            written.append(("limits.cpus", "--cpus \(cpus)"))
        }
        if !limits.isEmpty { fields["limits"] = .object(limits) }

        do { return try Manifest.decodeOverlay(.object(fields), source: "the command line") } catch {
            let path = error.path.description
            let flag = written.last { path == $0.path || path.hasPrefix($0.path + ".") || path.hasPrefix($0.path + "[") }?.flag ?? path
            throw .usage("\(flag): \(error.problem)" + (error.expected.map { " (\($0))" } ?? ""))
        }
    }

    static func variable(_ entry: String, from flag: String, into variables: inout [String: JSONValue], lookup: (String) -> String?) throws(StrataError) {
        let (key, value) = split(entry, "=")
        guard !key.isEmpty else { throw .usage("\(flag): a variable needs a name: KEY=VALUE, or KEY for the caller's value") }
        if let value {
            variables[key] = .string(value)
        } else if let inherited = lookup(key) {
            variables[key] = .string(inherited)
        }
    }

    /// `-v SOURCE:TARGET[:ro|rw]`: a source with a `/` (or `.`, `~`) is a host path, as
    /// docker and podman read it; anything else names a volume.
    static func volume(_ spec: String, workingDirectory: String) throws(StrataError) -> JSONValue {
        var parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var readOnly = false
        if parts.count == 3 {
            switch parts[2] {
            case "ro", "readonly": readOnly = true
            case "rw", "": break
            default: throw .usage("-v \(spec): \"\(parts[2])\" is not ro or rw")
            }
            parts.removeLast()
        }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .usage("-v \(spec): give SOURCE:TARGET[:ro], a host path (absolute or ./…) or a volume name, then a path in the environment")
        }
        var source = parts[0]
        let target = parts[1]
        if source == "~" || source.hasPrefix("~/"), let home = ProcessState.variable("HOME") { source = home + source.dropFirst() }
        if source.contains("/") || source.hasPrefix(".") {
            return .object(["type": .string("bind"), "source": .string(absolute(source, workingDirectory)), "target": .string(target),
                            "readonly": .bool(readOnly)])
        }
        if readOnly { throw .usage("-v \(spec): a volume is mounted read-write; drop \":ro\"") }
        return .object(["type": .string("volume"), "name": .string(source), "target": .string(target)])
    }

    /// `--mount type=…,source=…,target=…[,readonly]`, with docker's other spellings
    /// (`src`, `dst`, `destination`, `ro`, `readonly=true`).
    static func mount(_ spec: String, workingDirectory: String) throws(StrataError) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        var type = "volume"
        for item in spec.split(separator: ",") {
            let (key, value) = split(String(item), "=")
            switch key {
            case "type": type = value ?? ""
            case "source", "src": fields["source"] = .string(value ?? "")
            case "target", "dst", "destination": fields["target"] = .string(value ?? "")
            case "readonly", "ro": fields["readonly"] = .bool(value == nil || value == "true" || value == "1")
            default: throw .usage("--mount \(spec): \"\(key)\" is not a field strata takes (type, source, target, readonly)")
            }
        }
        fields["type"] = .string(type)
        switch type {
        case "bind":
            if case .string(let source)? = fields["source"] { fields["source"] = .string(absolute(source, workingDirectory)) }
        case "volume":
            if let source = fields.removeValue(forKey: "source") { fields["name"] = source }
            if fields["readonly"] != nil { throw .usage("--mount \(spec): a volume is mounted read-write; drop readonly") }
        case "tmpfs":
            if fields["source"] != nil || fields["readonly"] != nil { throw .usage("--mount \(spec): a tmpfs takes only a target") }
        default: break
        }
        return .object(fields)
    }

    static func split(_ text: String, _ separator: Character) -> (String, String?) {
        guard let index = text.firstIndex(of: separator) else { return (text, nil) }
        return (String(text[..<index]), String(text[text.index(after: index)...]))
    }

    static func absolute(_ path: String, _ workingDirectory: String) -> String {
        path.hasPrefix("/") ? path : workingDirectory + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }
}

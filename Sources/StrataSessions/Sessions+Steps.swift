import StrataEnvironment
import StrataModel
import StrataSandbox

/// How a `run` step of an environment runs: as `strata run` would run its command
/// (the same confinement, limits, user resolution and variables), but with no mounts
/// but its caches, the network only when the step asks for it, and a fixed host name.
public struct StepRuntime: Sendable, Equatable {
    public var argv: [String]
    /// `KEY=VALUE`: the base image's, the manifest's, the step's, then HOME, USER, PATH,
    /// `SOURCE_DATE_EPOCH` and `TZ=UTC` unless given.
    public var environment: [String]
    public var workingDirectory: String
    public var user: SessionUser
    public var confinement: Confinement
    public var limits: ResourceLimits
    public var nofile: UInt64?
    public var isolateNetwork: Bool

    /// The host name every step sees, so that nothing a step writes depends on the machine.
    public static let hostname = "strata-build"

    /// Everything that decides what the command does, as canonical bytes: what a step's
    /// key is made of, with the layers it runs on (`LayerKeys.runStep`). Cache paths are
    /// part of it (a step sees a different tree without them); their contents are not.
    public func definition(cache: [String]) -> [UInt8] {
        var lines = ["argv"] + argv.map { "\t" + Self.escaped($0) }
        lines += ["env"] + environment.sorted().map { "\t" + Self.escaped($0) }
        lines.append("workdir\t" + Self.escaped(workingDirectory))
        lines.append("user\t\(user.uid):\(user.gid):" + user.groups.map(String.init).joined(separator: ","))
        lines.append("network\t" + (isolateNetwork ? "none" : "host"))
        lines += ["cache"] + cache.map { "\t" + Self.escaped($0) }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    /// One line per value, whatever the value holds.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(character)
            }
        }
        return out
    }
}

extension Sessions {
    /// How `step` of `environment` runs on the layers `lowerDirs` (topmost first), its
    /// user resolved in them; `epoch` becomes `SOURCE_DATE_EPOCH`.
    public func stepRuntime(_ environment: LoadedEnvironment, lockfile: Lockfile, step: Manifest.RunStep,
                            lowerDirs: [String], epoch: Int64) throws(StrataError) -> StepRuntime {
        let manifest = environment.manifest
        let defaults = lockfile.imageDefaults ?? ImageDefaults()
        var variables = EnvironmentVariables(image: defaults.env, manifest: manifest.env)
        for (key, value) in step.env.sorted(by: { $0.key < $1.key }) { variables.set(key, value) }
        var user = SessionUser.root
        var home = "/root"
        var name: String? = nil
        if let (resolvedUser, resolved) = try sessionUser(environment, lowerDirs: lowerDirs, imageUser: defaults.user,
                                                          stepUser: step.user) {
            user = resolvedUser
            home = resolved.home
            name = resolved.name
        }
        if !variables.has("HOME") { variables.set("HOME", home) }
        if let name, !variables.has("USER") { variables.set("USER", name) }
        if !variables.has("SOURCE_DATE_EPOCH") { variables.set("SOURCE_DATE_EPOCH", String(epoch)) }
        if !variables.has("TZ") { variables.set("TZ", "UTC") }
        variables.set("HOSTNAME", StepRuntime.hostname)
        let (limits, nofile) = try resourceLimits(environment)
        return StepRuntime(
            argv: step.command.argv, environment: variables.entries,
            workingDirectory: step.workdir ?? manifest.workdir ?? defaults.workingDir ?? "/",
            user: user, confinement: try confinement(environment), limits: limits, nofile: nofile,
            isolateNetwork: step.network == .none)
    }
}

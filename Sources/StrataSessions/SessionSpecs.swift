import Glibc
import StrataEnvironment
import StrataModel
import StrataSandbox
import StrataStore

extension Sessions {
    /// The session's command, environment, working directory and mounts: the manifest's
    /// settings over the base image's defaults over strata's defaults. The caller's
    /// terminal decides whether the session gets one (as `docker run -it` does when stdin
    /// is a terminal; output to a file or pipe stays clean).
    func sessionSpec(_ environment: LoadedEnvironment, lockfile: Lockfile, options: RunOptions) throws(StrataError) -> SessionSpec {
        let manifest = environment.manifest
        let defaults = lockfile.imageDefaults ?? ImageDefaults()

        var variables = EnvironmentVariables(image: defaults.env, manifest: manifest.env)
        let hostname = manifest.hostname ?? "strata"
        if !variables.has("HOME") { variables.set("HOME", "/root") }
        variables.set("HOSTNAME", hostname)
        if options.shell, context.terminal.input, let term = context.variables["TERM"], !variables.has("TERM") {
            variables.set("TERM", term)
        }

        let imageCommand = (defaults.entrypoint ?? []) + (defaults.cmd ?? [])
        let argv: [String]
        if let given = options.argv, !given.isEmpty {
            argv = given
        } else if !options.shell, !imageCommand.isEmpty {
            argv = imageCommand
        } else {
            argv = manifest.shell ?? ["/bin/sh"]
        }

        var mounts: [SessionMount] = []
        for mount in manifest.mounts {
            switch mount {
            case .bind(let source, let target, let readOnly):
                let host = environment.paths.resolve(source)
                guard access(host, F_OK) == 0 else {
                    throw .input(path: host, reason: "the bind mount source for \(target) does not exist; create it, or fix the -v/--mount flag or \"mounts\" in \(environment.paths.manifest) that names it")
                }
                mounts.append(.bind(source: host, target: target, readOnly: readOnly))
            case .tmpfs(let target):
                mounts.append(.tmpfs(target: target))
            case .volume(let name, let target):
                mounts.append(volumeMount(name: name, target: target))
            }
        }
        return SessionSpec(
            lowerDirs: [], upperDir: "", workDir: "", rootDir: "",
            argv: argv, environment: variables.entries,
            workingDirectory: manifest.workdir ?? defaults.workingDir ?? "/",
            hostname: hostname, isolateNetwork: manifest.network == .none, mounts: mounts,
            terminal: options.terminal ?? (context.terminal.input && context.terminal.output), stderrTerminal: context.terminal.error)
    }
}

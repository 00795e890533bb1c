import Glibc
import StrataEnvironment
import StrataOS
import StrataStore

/// The one place strata reads its own process's state — environment variables,
/// terminals, working directory — to make the `RequestContext` the engine works with.
enum ProcessState {
    /// Only the variables strata reads: building a dictionary of the whole environment
    /// instantiated its generic metadata on every start (perf: ~2% of `strata run`).
    static let variableNames = [
        "SOURCE_DATE_EPOCH", "STRATA_DEBIAN_MIRROR", "TERM", "PATH", "HOME", "STRATA_ROOT", "XDG_DATA_HOME", "CI",
        "STRATA_FETCH",
        // Registries: where credentials are kept (as Docker and Podman look), plain-HTTP hosts.
        "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG", "STRATA_INSECURE_REGISTRIES",
        "STRATA_REGISTRY_MIRRORS", "STRATA_UPLOAD_CHUNK_SIZE",
        // A project's session: the terminal and language pass through; `sudo` says who is behind root.
        "LANG", "COLORTERM", "SUDO_UID", "SUDO_GID", "SUDO_USER",
    ]

    static func variables() -> [String: String] {
        var result: [String: String] = [:]
        for name in variableNames {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }

    /// This process's whole environment, `KEY=VALUE` (what `strata run -d`'s runner inherits).
    static func environment() -> [String] {
        var entries: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            entries.append(String(cString: entry))
            pointer += 1
        }
        return entries
    }

    /// One variable of this process's environment, whatever its name (`-e KEY` passes the caller's).
    static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The person behind this process: `sudo`'s caller when root runs through it, else
    /// whoever this process is (in a rootless strata's own namespace, the same ids).
    static func caller(variables: [String: String]) -> Caller {
        let uid = getuid()
        if uid == 0 {
            guard let text = variables["SUDO_UID"], let sudoUID = UInt32(text), sudoUID != 0 else { return .root }
            let sudoGID = variables["SUDO_GID"].flatMap { UInt32($0) } ?? sudoUID
            return Caller(uid: sudoUID, gid: sudoGID, name: variables["SUDO_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? loginName(sudoUID))
        }
        return Caller(uid: uid, gid: getgid(), name: loginName(uid))
    }

    /// The host's name for `uid`, else the number (a user without a passwd entry).
    static func loginName(_ uid: uid_t) -> String {
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name, name.pointee != 0 { return String(cString: name) }
        return String(uid)
    }

    static func workingDirectory() -> String {
        guard let path = getcwd(nil, 0) else { return "/" }
        defer { free(path) }
        return String(cString: path)
    }

    /// This invocation's request: notes and progress on stderr, terminals as they are.
    static func context(variables: [String: String], progress: ProgressMode = .auto) -> RequestContext {
        let terminal = Terminal(input: isatty(0) != 0, output: isatty(1) != 0, error: isatty(2) != 0)
        var context = RequestContext(
            variables: variables, terminal: terminal, workingDirectory: workingDirectory(),
            notes: { StandardError.write("strata: " + $0 + "\n") }, progress: terminal.error && progress != .quiet && progress != .json,
            fetchTool: variables["STRATA_FETCH"])
        context.caller = caller(variables: variables)
        let renderer = BuildProgress(mode: progress, stderrIsTerminal: terminal.error)
        context.events = { renderer.handle($0) }
        return context
    }

    /// `--root`, else `$STRATA_ROOT`, else the default for this user.
    static func storeRoot(_ option: String?, context: RequestContext) -> String {
        // A relative one is the caller's: the store itself only takes absolute roots.
        EnvironmentPaths.absolute(option ?? Store.defaultRoot(environment: context.variables), from: context.workingDirectory)
    }
}

/// Writes to this process's stderr, retrying short writes.
enum StandardError {
    static func write(_ text: String) { StandardOutput.write(text, to: 2) }
}

/// Writes to this process's stdout without `print`, whose generic path (a dynamic cast
/// per item) costs a tenth of a cached `strata build` (callgrind).
enum StandardOutput {
    static func write(_ text: String, to fd: Int32 = 1) { write(Array(text.utf8), to: fd) }

    /// Bytes as they are (a session's log need not be UTF-8).
    static func write(_ output: [UInt8], to fd: Int32 = 1) {
        var bytes = output
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }
}

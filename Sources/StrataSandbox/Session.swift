/// A mount added to a session on top of its root.
public enum SessionMount: Sendable, Equatable {
    /// `source` is an absolute host path; `target` is absolute inside the session.
    case bind(source: String, target: String, readOnly: Bool)
    case tmpfs(target: String)
}

/// Everything a session needs, prepared in Swift before clone(2).
public struct SessionSpec: Sendable {
    /// Snapshot layers, topmost first (overlayfs lowerdir order). Absolute paths.
    public var lowerDirs: [String]
    /// The session's writable overlay upper and work dirs (same filesystem).
    public var upperDir: String
    public var workDir: String
    /// An empty directory where the session root is mounted (inside the session's mount namespace only).
    public var rootDir: String
    public var argv: [String]
    /// `KEY=VALUE` strings: exactly the session's environment.
    public var environment: [String]
    public var workingDirectory: String
    public var hostname: String
    /// true: new network namespace (loopback only); false: the host's network.
    public var isolateNetwork: Bool
    public var mounts: [SessionMount]

    public init(lowerDirs: [String], upperDir: String, workDir: String, rootDir: String,
                argv: [String], environment: [String], workingDirectory: String = "/",
                hostname: String = "strata", isolateNetwork: Bool = true, mounts: [SessionMount] = []) {
        self.lowerDirs = lowerDirs; self.upperDir = upperDir; self.workDir = workDir; self.rootDir = rootDir
        self.argv = argv; self.environment = environment; self.workingDirectory = workingDirectory
        self.hostname = hostname; self.isolateNetwork = isolateNetwork; self.mounts = mounts
    }
}

/// How a session's command ended.
public enum SessionExit: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    /// The shell convention: the exit code, or 128+N for signal N.
    public var status: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }
}

/// Why a session could not start. Each case names the path or step and the errno text.
public enum SandboxError: Error, Equatable, Sendable {
    case setup(step: String, path: String, reason: String)
    case exec(path: String, reason: String)
    case invalidSpec(String)
}

/// Runs commands in isolated sessions.
///
/// A session gets new mount, PID, UTS, IPC and cgroup namespaces (and a network
/// namespace with only `lo` when `isolateNetwork`), the overlay as its root after
/// `pivot_root`, fresh `/proc`, a minimal `/dev`, read-only `/sys` and a tmpfs `/tmp`.
/// Every mount lives only in the session's mount namespace: nothing stays mounted on
/// the host when `run` returns. Safe to call from several threads at once.
public enum Sandbox {
    /// Runs `spec.argv` in a new session and waits for it. Stdin/stdout/stderr are
    /// inherited. SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to this process are forwarded.
    ///
    /// Blocks the calling thread until the command ends (call it from a thread that
    /// may block, not from a cooperative-pool task that must stay responsive).
    /// Returns how the command ended; throws `.invalidSpec` before anything starts,
    /// `.setup` naming the step and path when the session cannot be built, and
    /// `.exec` when `argv[0]` cannot be executed.
    public static func run(_ spec: SessionSpec) throws(SandboxError) -> SessionExit {
        try runSession(spec)
    }
}

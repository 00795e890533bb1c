import Glibc
import StrataOS

/// A mount added to a session on top of its root.
public enum SessionMount: Sendable, Equatable {
    /// `source` is an absolute host path; `target` is absolute inside the session.
    case bind(source: String, target: String, readOnly: Bool)
    case tmpfs(target: String)

    /// Where it is mounted in the session.
    public var target: String {
        switch self {
        case .bind(_, let target, _), .tmpfs(let target): return target
        }
    }
}

/// What the command may do: its capabilities, its seccomp filter, whether it may gain
/// privileges, whether its root is writable. The default is Docker's default confinement.
public struct Confinement: Sendable, Equatable {
    /// Capability numbers kept, as a bit set: the bounding set, and for uid 0 also the
    /// permitted and effective sets. Inheritable and ambient are always empty.
    public var capabilities: UInt64
    /// A classic BPF program (`struct sock_filter[]`, 8 bytes per instruction) loaded
    /// right before execve, or nil for none (`seccomp: unconfined`).
    public var seccompProgram: [UInt8]?
    public var noNewPrivileges: Bool
    public var readonlyRoot: Bool

    /// Docker's default 14: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID,
    /// SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE.
    public static let dockerCapabilities: UInt64 = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]
        .reduce(0) { $0 | (1 << UInt64($1)) }

    public init(capabilities: UInt64 = Confinement.dockerCapabilities, seccompProgram: [UInt8]? = nil,
                noNewPrivileges: Bool = true, readonlyRoot: Bool = false) {
        self.capabilities = capabilities; self.seccompProgram = seccompProgram
        self.noNewPrivileges = noNewPrivileges; self.readonlyRoot = readonlyRoot
    }
}

/// Who the command runs as, already resolved against the environment's `/etc/passwd`.
public struct SessionUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var groups: [UInt32]
    public static let root = SessionUser(uid: 0, gid: 0, groups: [])
    public init(uid: UInt32, gid: UInt32, groups: [UInt32]) { self.uid = uid; self.gid = gid; self.groups = groups }
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
    public var confinement: Confinement
    public var user: SessionUser
    /// Memory, pids and CPU limits, enforced through a cgroup made for the session
    /// (none when empty); RLIMIT_NOFILE (soft and hard) for the command, nil keeps strata's.
    public var limits: ResourceLimits
    public var nofile: UInt64?
    /// Give the session a pseudo-terminal relayed to this process's stdin/stdout
    /// (only when stdin is a terminal); `stderrTerminal` routes stderr through it too.
    public var terminal: Bool
    public var stderrTerminal: Bool
    /// How long the session gets after strata receives SIGTERM or SIGHUP before
    /// every process in it is killed.
    public var stopTimeoutMilliseconds: Int
    /// Where the sandbox records the running session's init (its pid, start time and
    /// cgroups; see `RunningSession`) once the session is complete, so that commands
    /// can join it; removed when the session ends. nil: the session cannot be joined.
    public var initRecordPath: String? = nil
    /// A descriptor (of this process) the command's stdout and stderr go to, its stdin
    /// then being /dev/null: how a build step's output is read. nil: this process's 0-2.
    /// Ignored with a terminal; not used when joining a session.
    public var output: Int32? = nil
    /// A descriptor (of this process) that gets one byte, `s`, once the command's execve
    /// has succeeded: how a supervisor (`strata serve`) tells a container that started
    /// from one whose command could not be run, before the command ends. nil: none.
    public var startedSignal: Int32? = nil
    /// Which namespace strata runs in: overlays take `userxattr` in one of its own.
    public var userNamespace: UserNamespace = .current

    public init(lowerDirs: [String], upperDir: String, workDir: String, rootDir: String,
                argv: [String], environment: [String], workingDirectory: String = "/",
                hostname: String = "strata", isolateNetwork: Bool = true, mounts: [SessionMount] = [],
                confinement: Confinement = Confinement(), user: SessionUser = .root,
                limits: ResourceLimits = ResourceLimits(), nofile: UInt64? = nil,
                terminal: Bool = false, stderrTerminal: Bool = false, stopTimeoutMilliseconds: Int = 5000) {
        self.lowerDirs = lowerDirs; self.upperDir = upperDir; self.workDir = workDir; self.rootDir = rootDir
        self.argv = argv; self.environment = environment; self.workingDirectory = workingDirectory
        self.hostname = hostname; self.isolateNetwork = isolateNetwork; self.mounts = mounts
        self.confinement = confinement; self.user = user; self.limits = limits; self.nofile = nofile
        self.terminal = terminal; self.stderrTerminal = stderrTerminal; self.stopTimeoutMilliseconds = stopTimeoutMilliseconds
    }
}

/// How a session's command ended.
public enum SessionExit: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    /// Killed by the kernel's OOM killer for going over the session's memory limit.
    case outOfMemory(limitBytes: UInt64)
    /// The shell convention: the exit code, or 128+N for signal N (137 when out of memory).
    public var status: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        case .outOfMemory: return 128 + SIGKILL
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
        if spec.limits.isEmpty { return try runSession(spec) }
        return try runInCgroup(spec)
    }
}

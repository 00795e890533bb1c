import CSandbox
import Glibc
import StrataOS

/// A session whose init is running, as the init record its sandbox wrote says
/// (`SessionSpec.initRecordPath`): the init's pid with its start time, which
/// together name one process for good (a recycled pid has another start time),
/// and the cgroups the session's processes are in. A value, so it can go stale:
/// `Sandbox.join` checks it again before joining.
public struct RunningSession: Sendable, Equatable {
    public var initPID: Int32
    /// Clock ticks after boot (field 22 of `/proc/PID/stat`).
    public var startTime: Int64
    /// The session's cgroup directories (empty for a session without limits).
    public var cgroupDirectories: [String]

    public init(initPID: Int32, startTime: Int64, cgroupDirectories: [String]) {
        self.initPID = initPID; self.startTime = startTime; self.cgroupDirectories = cgroupDirectories
    }

    /// The running session recorded at `path`, or nil when there is no record or its
    /// init has ended (a record left by a strata that was killed names a dead or
    /// recycled pid). Throws `.setup` when the record exists but cannot be read.
    public static func read(recordPath path: String) throws(SandboxError) -> RunningSession? {
        let text: String
        do { text = try CgroupFile.read(path) } catch {
            if error.code == ENOENT { return nil }
            throw .setup(step: "read the session's init record", path: path, reason: error.reason)
        }
        var pid: Int32?
        var start: Int64?
        var cgroups: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("pid=") { pid = Int32(line.dropFirst(4)) }
            else if line.hasPrefix("start=") { start = Int64(line.dropFirst(6)) }
            else if line.hasPrefix("cgroup=") { cgroups.append(String(line.dropFirst(7))) }
        }
        guard let pid, pid > 0, let start else {
            throw .setup(step: "read the session's init record", path: path,
                         reason: "it is not pid=N and start=TICKS lines; the session cannot be joined (restart it)")
        }
        let session = RunningSession(initPID: pid, startTime: start, cgroupDirectories: cgroups)
        return session.isAlive ? session : nil
    }

    /// Whether the recorded init still runs (the same process, not a recycled pid).
    public var isAlive: Bool { csb_process_start_time(initPID) == startTime }

    /// The record's lines after the pid and start time, as the sandbox writes them.
    static func recordLines(cgroupDirectories: [String]) -> String {
        cgroupDirectories.map { "cgroup=" + $0 + "\n" }.joined()
    }
}

extension Sandbox {
    /// Runs `spec.argv` as one more command in `session`, as `docker exec` does: in its
    /// cgroups and its cgroup, IPC, UTS, network, PID and mount namespaces, in
    /// `spec.workingDirectory`, with `spec`'s environment, user and confinement (the
    /// same capabilities, seccomp program, no_new_privs and nofile a first command
    /// gets), on a terminal of the session's own when `spec.terminal` and stdin is one.
    /// Only the command fields of `spec` are used: its lower dirs, mounts and hostname
    /// are the session's already.
    ///
    /// Blocks until the command ends and returns how; signals to this process are
    /// forwarded as for `run`, and the command is killed if this process dies. The
    /// command also ends when the session does. Throws `.setup` when the session has
    /// stopped or cannot be joined, `.exec` when `argv[0]` cannot be executed.
    public static func join(_ session: RunningSession, _ spec: SessionSpec) throws(SandboxError) -> SessionExit {
        try validateCommand(spec)
        let pidfd = csb_pidfd_open(session.initPID)
        guard pidfd >= 0 else { throw stopped(session, errno) }
        defer { close(pidfd) }
        // Checked after the pidfd is open: from here on it names the recorded init or a dead process.
        guard session.isAlive else { throw stopped(session, ESRCH) }

        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for directory in session.cgroupDirectories {
            let path = directory + "/cgroup.procs"
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                throw .setup(step: "join cgroup", path: path, reason: SystemError.text(code))
            }
            fds.append(fd)
        }

        let arena = CArena()
        defer { arena.free() }
        var cSpec = cSpec(spec, cgroupFDs: fds, arena: arena)
        var result = csb_result()
        _ = csb_join(&cSpec, pidfd, &result)
        return try exit(from: result, spec: spec, cSpec: &cSpec)
    }

    private static func stopped(_ session: RunningSession, _ code: Int32) -> SandboxError {
        let reason = code == ESRCH ? "the session has stopped" : SystemError.text(code)
        return .setup(step: "join the session", path: "init pid \(session.initPID)", reason: reason)
    }
}

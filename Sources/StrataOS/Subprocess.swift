import CLinux
import Glibc

/// A program run to completion with `posix_spawn` (never a shell), its input given and
/// its outputs collected: `git show`, `gpgv`, `strata-fetch`.
///
/// The environment is exactly `environment`: nothing of this process's own environment
/// is passed on, so that the caller (the CLI, or a daemon serving a client) decides.
/// Outputs are read with `poll` until they all close, so a chatty program cannot fill
/// one pipe while strata waits on another. Safe to use from several threads at once:
/// every descriptor is close-on-exec until the child's own copy is made.
public struct Subprocess: Sendable {
    public enum Input: Sendable { case null, bytes([UInt8]) }
    public enum Output: Sendable, Equatable { case null, inherit, capture }

    /// An absolute path (see `locate(_:searchPath:)` for a name to find in a PATH).
    public var executable: String
    /// The arguments after `argv[0]`, which is `executable`.
    public var arguments: [String]
    /// `KEY=VALUE` strings.
    public var environment: [String]
    public var standardInput: Input = .null
    public var standardOutput: Output = .capture
    public var standardError: Output = .inherit
    /// Further descriptor numbers (3, 4…) whose output in the child is collected.
    public var capturedDescriptors: [Int32] = []
    /// Where the program starts; nil: this process's working directory.
    public var workingDirectory: String?

    public init(executable: String, arguments: [String], environment: [String]) {
        self.executable = executable; self.arguments = arguments; self.environment = environment
    }

    /// How the program ended and what it wrote.
    public struct Outcome: Sendable {
        /// The raw `waitpid` status.
        public var waitStatus: Int32
        public var standardOutput: [UInt8] = []
        public var standardError: [UInt8] = []
        /// Output of `capturedDescriptors`, by descriptor number.
        public var captured: [Int32: [UInt8]] = [:]

        /// The exit code, or nil when a signal ended it.
        public var exitCode: Int32? { waitStatus & 0x7f == 0 ? (waitStatus >> 8) & 0xff : nil }
        /// The signal that ended it, or nil when it exited.
        public var signal: Int32? { waitStatus & 0x7f == 0 ? nil : waitStatus & 0x7f }
        public var succeeded: Bool { waitStatus == 0 }

        /// "exited with status 3" or "was killed by signal 9".
        public var ending: String {
            if let signal { return "was killed by signal \(signal)" }
            return "exited with status \(exitCode ?? -1)"
        }
    }

    /// The first executable file named `name` in the colon-separated `searchPath`
    /// (a name with a slash is taken as it is); nil when there is none.
    public static func locate(_ name: String, searchPath: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs the program and waits for it. Throws only when it cannot be started (ENOENT
    /// when `executable` does not exist) or its outputs cannot be read; a program that
    /// fails is an `Outcome` with a non-zero status.
    public func run() throws(SystemError) -> Outcome {
        var pipes = Pipes()
        defer { pipes.closeAll() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        var input: [UInt8] = []
        switch standardInput {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .bytes(let bytes):
            input = bytes
            // A socket, not a pipe: `send(MSG_NOSIGNAL)` to a child that exited early is
            // EPIPE here instead of a SIGPIPE that would kill strata.
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw SystemError("socketpair", path: executable)
            }
            pipes.childEnds.append(pair[1])
            pipes.input = pair[0]
            posix_spawn_file_actions_adddup2(&actions, pair[1], 0)
        }
        var readers: [(target: Int32, fd: Int32)] = []
        let redirections: [(Int32, Output)] = [(1, standardOutput), (2, standardError)] + capturedDescriptors.map { ($0, .capture) }
        for (target, output) in redirections {
            switch output {
            case .inherit: continue
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .capture:
                var ends: [Int32] = [-1, -1]
                guard pipe2(&ends, O_CLOEXEC) == 0 else { throw SystemError("pipe", path: executable) }
                pipes.childEnds.append(ends[1])
                pipes.readEnds.append(ends[0])
                readers.append((target, ends[0]))
                posix_spawn_file_actions_adddup2(&actions, ends[1], target)
            }
        }

        // The program starts with no signal blocked and SIGPIPE at its default, whatever
        // the spawning thread had.
        let (pid, spawned) = spawn(&actions, defaultSignals: [SIGPIPE], flags: 0)
        pipes.closeChildEnds()
        guard spawned == 0 else { throw SystemError("run", path: executable, errno: spawned) }

        var outcome = Outcome(waitStatus: 0)
        let collected = collect(readers: readers, input: input, pipes: &pipes)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw SystemError("waitpid", path: executable) }
        }
        outcome.waitStatus = status
        let outputs = try collected.get()
        for (target, bytes) in outputs {
            switch target {
            case 1: outcome.standardOutput = bytes
            case 2: outcome.standardError = bytes
            default: outcome.captured[target] = bytes
            }
        }
        return outcome
    }

    /// Starts the program in a session of its own (`setsid`: no terminal, no hangup when
    /// the caller's ends), stdin from /dev/null, stdout to /dev/null and stderr appended to
    /// `errorLog`, and returns its pid without waiting: `strata run -d`'s background runner,
    /// which outlives the command that started it.
    public func startDetached(errorLog: String) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorLog, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // Nothing else of the caller's: a pipe its own caller reads to the end would stay
        // open for as long as the runner lives (and `strata run -d | cat` would never end).
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        let (pid, spawned) = spawn(&actions, defaultSignals: [SIGPIPE, SIGHUP, SIGINT, SIGTERM], flags: STRATA_POSIX_SPAWN_SETSID)
        guard spawned == 0 else { throw SystemError("run", path: executable, errno: spawned) }
        return pid
    }

    /// Starts the program in a session of its own with `descriptors[i]` (this process's)
    /// as its fd i and nothing else open, and returns its pid without waiting: the caller
    /// reaps it. `strata serve`'s per-container runner, whose stdio are the container's.
    public func start(descriptors: [Int32]) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 of an fd onto itself clears its close-on-exec flag (glibc ≥ 2.29), as wanted.
        for (target, source) in descriptors.enumerated() { posix_spawn_file_actions_adddup2(&actions, source, Int32(target)) }
        posix_spawn_file_actions_addclosefrom_np(&actions, Int32(descriptors.count))
        let (pid, spawned) = spawn(&actions, defaultSignals: [SIGPIPE, SIGHUP, SIGINT, SIGTERM], flags: STRATA_POSIX_SPAWN_SETSID)
        guard spawned == 0 else { throw SystemError("run", path: executable, errno: spawned) }
        return pid
    }

    /// `posix_spawn` with `actions` (plus the working directory), no signal blocked and
    /// `defaultSignals` at their default disposition; returns the pid and its result.
    private func spawn(_ actions: inout posix_spawn_file_actions_t, defaultSignals: [Int32], flags: Int32) -> (pid_t, Int32) {
        if let workingDirectory { posix_spawn_file_actions_addchdir_np(&actions, workingDirectory) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        return (pid, spawned)
    }

    /// Feeds `input` and drains every reader until all are closed.
    private func collect(readers: [(target: Int32, fd: Int32)], input: [UInt8],
                         pipes: inout Pipes) -> Result<[Int32: [UInt8]], SystemError> {
        var outputs: [Int32: [UInt8]] = [:]
        var open = readers
        var offset = 0
        if input.isEmpty { pipes.closeInput() }
        if let fd = pipes.input { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty || pipes.input != nil {
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if let fd = pipes.input { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                return .failure(SystemError("poll", path: executable))
            }
            if let fd = pipes.input, let last = fds.last, last.revents != 0 {
                let n = input[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { offset += n }
                // A child that stopped reading (EPIPE) gets no more; its status says why.
                if offset == input.count || (n < 0 && errno != EINTR && errno != EAGAIN) { pipes.closeInput() }
            }
            var index = 0
            while index < open.count {
                guard fds[index].revents != 0 else { index += 1; continue }
                let count = buffer.withUnsafeMutableBytes { Glibc.read(open[index].fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    outputs[open[index].target, default: []].append(contentsOf: buffer[0..<count])
                    index += 1
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    pipes.closeReader(open[index].fd)
                    open.remove(at: index)
                    fds.remove(at: index)
                } else {
                    index += 1
                }
            }
        }
        return .success(outputs)
    }

    /// The descriptors of one run, each closed exactly once.
    private struct Pipes {
        var childEnds: [Int32] = []
        var readEnds: [Int32] = []
        var input: Int32?

        mutating func closeChildEnds() {
            for fd in childEnds { close(fd) }
            childEnds = []
        }

        mutating func closeInput() {
            if let input { close(input) }
            input = nil
        }

        mutating func closeReader(_ fd: Int32) {
            close(fd)
            readEnds.removeAll { $0 == fd }
        }

        mutating func closeAll() {
            closeChildEnds()
            closeInput()
            for fd in readEnds { close(fd) }
            readEnds = []
        }
    }
}

import Glibc
import StrataStore

/// What one request brings from its caller, passed in rather than read from the process:
/// one strata process (a daemon) serves many callers, each with its own environment
/// variables, terminal, working directory and place for notes.
///
/// Only the CLI and the tool entry points read process state; they build one of these.
public struct RequestContext: Sendable {
    /// The caller's environment variables that strata reads: `SOURCE_DATE_EPOCH`,
    /// `STRATA_DEBIAN_MIRROR`, `TERM`, and `PATH` and `HOME` for the programs it runs.
    public var variables: [String: String]
    /// Which of the caller's standard streams are terminals.
    public var terminal: Terminal
    /// The caller's working directory: relative paths in requests are relative to it.
    public var workingDirectory: String
    /// Where notes for the user go (a line each, without a newline): stderr in the CLI.
    public var notes: @Sendable (String) -> Void
    /// Whether long work (downloads) may draw a progress line on the caller's terminal.
    public var progress: Bool
    /// Set by the caller to stop the request at the next step boundary.
    public var cancellation: Cancellation
    /// Seconds since the epoch, now.
    public var now: @Sendable () -> Int64
    /// The `strata-fetch` executable downloads run in; nil: the one installed beside the
    /// running executable (found only when something is downloaded).
    public var fetchTool: String?
    /// What a build is doing as it does it (steps starting, their output, how they ended),
    /// for the caller to show: live lines on a terminal, plain lines, or JSON.
    public var events: @Sendable (BuildEvent) -> Void = { _ in }
    /// Who asked: the person a session of their project runs as (root, or the user behind
    /// `sudo`, or a rootless caller).
    public var caller: Caller = .root
    /// The request's hold on the store's objects (`Store.leaseObjects`), which keeps gc off
    /// while it builds, pulls or sets a session up; nil when the caller holds none (tests,
    /// gc itself). A session gives it back once its record is a root (`releaseLease`).
    public var lease: ObjectLease?

    public init(variables: [String: String] = [:], terminal: Terminal = Terminal(), workingDirectory: String = "/",
                notes: @escaping @Sendable (String) -> Void = { _ in }, progress: Bool = false,
                cancellation: Cancellation = Cancellation(), now: @escaping @Sendable () -> Int64 = RequestContext.systemClock,
                fetchTool: String? = nil) {
        self.variables = variables; self.terminal = terminal; self.workingDirectory = workingDirectory
        self.notes = notes; self.progress = progress; self.cancellation = cancellation; self.now = now
        self.fetchTool = fetchTool
    }

    /// Gives the request's lease back: from here on it uses only what a root of its own
    /// (a session's record) keeps, and may run for days without holding gc off.
    public func releaseLease() { lease?.release() }

    /// Tells the user something (a re-lock, a warning) without failing the request.
    public func note(_ text: String) { notes(text) }

    /// The system's clock.
    public static let systemClock: @Sendable () -> Int64 = { Int64(time(nil)) }

    /// `SOURCE_DATE_EPOCH` as reproducible-builds.org defines it (a decimal count of
    /// seconds); nil when unset or empty.
    public func sourceDateEpoch() throws(StrataError) -> Int64? {
        guard let text = variables["SOURCE_DATE_EPOCH"], !text.isEmpty else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw .usage("SOURCE_DATE_EPOCH=\(text) is not a number of seconds since 1970; set it to, e.g., $(git log -1 --format=%ct)")
        }
        return value
    }

    /// `KEY=VALUE` entries of `variables` for the given keys, for a program strata runs.
    public func environment(passing keys: [String]) -> [String] {
        keys.compactMap { key in variables[key].map { "\(key)=\($0)" } }
    }
}

/// A caller's identity on the host, as their project's session shows it: the same ids and
/// name, so that the files they make in the project are theirs.
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// The login name (`USER` and the `/etc/passwd` entry a session adds when it lacks one).
    public var name: String

    public static let root = Caller(uid: 0, gid: 0, name: "root")

    public init(uid: UInt32, gid: UInt32, name: String) { self.uid = uid; self.gid = gid; self.name = name }
}

/// Which of a caller's standard streams are terminals (`isatty`, as the caller saw it).
public struct Terminal: Sendable, Equatable {
    public var input: Bool
    public var output: Bool
    public var error: Bool

    public init(input: Bool = false, output: Bool = false, error: Bool = false) {
        self.input = input; self.output = output; self.error = error
    }
}

/// One thing a build did, in the order it happened: what `--progress` shows.
public enum BuildEvent: Sendable, Equatable {
    /// A step is being built (run, or its bytes fetched and unpacked).
    case started(BuildStepName)
    /// Bytes a running step wrote to its stdout or stderr, as they came.
    case output(BuildStepName, [UInt8])
    /// The step's layer was already in the store: nothing was done.
    case cached(BuildStepName)
    /// The step's layer was made, in `seconds`.
    case done(BuildStepName, seconds: Double)
    /// The step failed: its command exited with `status` (or was killed).
    case failed(BuildStepName, status: Int32)
    /// The build ended: how many steps ran and how many were cached, in `seconds` in all.
    case finished(ran: Int, cached: Int, seconds: Double)
}

/// A step as progress names it: `[3/7] run pip install -r requirements.txt`.
public struct BuildStepName: Sendable, Equatable {
    /// 1-based, among the manifest's steps; 0 for a part of building the base (download,
    /// unpack, configure).
    public var number: Int
    public var total: Int
    /// `run: …`, `copy: …`, `tar: …` (`Manifest.Step.summary`).
    public var summary: String

    public init(number: Int, total: Int, summary: String) {
        self.number = number; self.total = total; self.summary = summary
    }

    /// `[3/7] run: pip install …`
    public var description: String { number == 0 ? "[base] \(summary)" : "[\(number)/\(total)] \(summary)" }

    /// The prefix of the step's output lines in plain progress: `[3/7]`, `[base]`.
    public var tag: String { number == 0 ? "[base]" : "[\(number)/\(total)]" }
}

extension SandboxError: CustomStringConvertible {
    /// One sentence naming what failed and where, for the CLI.
    public var description: String {
        switch self {
        case .setup(let step, let path, let reason):
            return "session setup failed at step '\(step)' on \(path): \(reason)"
        case .exec(let path, let reason):
            return "cannot run \(path) in the session: \(reason)"
        case .invalidSpec(let message):
            return "invalid session: \(message)"
        }
    }
}

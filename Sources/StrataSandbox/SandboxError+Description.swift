extension SandboxError: CustomStringConvertible {
    /// One sentence naming the step and path that failed, with a hint when the likely
    /// cause is the confinement the manifest chose rather than the host.
    public var description: String {
        switch self {
        case .setup(let step, let path, let reason):
            let what = path.isEmpty ? step : step + " " + path
            // These steps run after the seccomp filter (without no_new_privs) or under the
            // capabilities the manifest chose: the likely cause is the manifest, not the host.
            let confined = ["drop capabilities", "set user and groups", "set no_new_privs", "set nofile limit", "load seccomp filter"]
            let hint = confined.contains(step) ? "; check \"security\", \"user\" and \"limits\" in the manifest" : ""
            return "cannot start the session: \(what): \(reason)\(hint)"
        case .exec(let path, let reason): return "cannot run \(path) in the session: \(reason)"
        case .invalidSpec(let text): return "cannot start the session: \(text)"
        }
    }
}

extension ArchiveError: CustomStringConvertible {
    /// One sentence naming the archive or entry and what is wrong with it.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .corrupt(let path, let reason): return "\(path) is not a valid tar archive: \(reason)"
        case .unsafeEntry, .limitExceeded, .io: return reason
        }
    }

    /// What is wrong, for the end of a sentence that already names the archive.
    public var reason: String {
        switch self {
        case .unreadable(_, let reason): return reason
        case .corrupt(_, let reason): return "not a valid tar archive: \(reason)"
        case .unsafeEntry(let entry, let reason): return "refused entry \"\(entry)\": \(reason)"
        case .limitExceeded(let entry, let limit): return "entry \"\(entry)\" exceeds the limit on \(limit)"
        case .io(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}

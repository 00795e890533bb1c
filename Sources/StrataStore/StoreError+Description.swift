extension StoreError: CustomStringConvertible {
    /// One sentence: what is wrong in the store, and what to do about it.
    public var description: String {
        switch self {
        case .io(let path, let reason): return "store: \(path): \(reason)"
        case .digestMismatch(let expected, let actual, let source):
            return "\(source) hashes to \(actual), but the lockfile pins \(expected); nothing was stored (run `strata lock` if the change is intended)"
        case .sizeMismatch(let digest, let expected, let actual, let source):
            return "\(source) is \(actual) bytes, but \(digest) is pinned at \(expected) bytes; nothing was stored"
        case .missingBlob(let digest): return "the store has no blob \(digest); run `strata build` again"
        case .unpack(let blob, let error): return "cannot unpack layer \(blob): \(error)"
        case .diffIDMismatch(let blob, let expected, let actual):
            return "layer \(blob) unpacks to \(actual), but its diff id is pinned as \(expected); nothing was stored"
        case .sessionExists(let name): return "a session named \"\(name)\" already exists; remove it first or pick another --name"
        case .noSuchSession(let name): return "no session named \"\(name)\"; `strata sessions` lists them"
        case .missingLayer(let diffID): return "the store has no layer \(diffID); run `strata build` again"
        case .missingSnapshot(let id): return "the store has no snapshot \(id); run `strata build` again"
        case .emptySnapshot: return "a snapshot needs at least one layer"
        case .corrupt(let path, let reason): return "the store is damaged at \(path): \(reason)"
        case .invalidName(let name, let reason): return "\"\(name)\" cannot be used: \(reason)"
        case .sessionInUse(let name): return "session \"\(name)\" is in use by a running process; stop what runs in it first"
        case .noSuchVolume(let name): return "no volume named \"\(name)\"; `strata volume ls` lists them"
        case .volumeInUse(let name, let sessions, let running):
            let users = sessions.map { "\"\($0)\"" }.joined(separator: ", ")
            let state = running ? "; stop the running one and remove them" : "; remove them"
            return "volume \"\(name)\" is in use by session\(sessions.count == 1 ? "" : "s") \(users)\(state) first (`strata rm`)"
        }
    }
}

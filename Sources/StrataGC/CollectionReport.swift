import StrataModel

/// The kinds of things gc removes, as its report names them.
public enum GarbageKind: String, Sendable, CaseIterable, Comparable {
    /// A container's manifest and lockfile (`strata serve`) that no session names any more.
    case containerSettings = "container settings"
    case buildRoot = "build root"
    case snapshot
    case cacheEntry = "cache entry"
    case layer
    case blob
    case temporary
    /// A session directory whose record a power cut emptied (it was not kept).
    case lostSession = "lost session"

    /// The order gc removes them in: records before what they name, so that a gc stopped
    /// half-way never leaves a record naming something gone.
    public static func < (a: GarbageKind, b: GarbageKind) -> Bool { a.rank < b.rank }

    private var rank: Int {
        switch self {
        case .containerSettings: 0
        case .buildRoot: 1
        case .snapshot: 2
        case .cacheEntry: 3
        case .layer: 4
        case .blob: 5
        case .temporary: 6
        case .lostSession: 7
        }
    }

    /// "3 layers", "1 cache entry".
    public func counted(_ count: Int) -> String {
        let noun = count == 1 || self == .containerSettings ? rawValue : (self == .cacheEntry ? "cache entries" : rawValue + "s")
        return "\(count) \(noun)"
    }
}

/// One thing gc removed (or, in a dry run, would remove).
public struct CollectedObject: Sendable, Equatable {
    public var kind: GarbageKind
    /// The digest, cache key (`KIND/KEY`), temporary's name, or a build root's lockfile path.
    public var name: String
    /// Where it was in the store.
    public var path: String
    /// What removing it frees: its bytes less those still linked from what stays.
    public var bytes: Int64

    public init(kind: GarbageKind, name: String, path: String, bytes: Int64) {
        self.kind = kind; self.name = name; self.path = path; self.bytes = bytes
    }
}

/// What a gc did: each object, the totals by kind, and notes for the user.
public struct CollectionReport: Sendable, Equatable {
    public var removed: [CollectedObject]
    /// True for `--dry-run`: nothing was removed.
    public var dryRun: Bool
    public var notes: [String]
    /// Objects kept only because they are younger than `--keep-recent`.
    public var keptRecent: Int

    public init(removed: [CollectedObject], dryRun: Bool, notes: [String], keptRecent: Int) {
        self.removed = removed; self.dryRun = dryRun; self.notes = notes; self.keptRecent = keptRecent
    }

    public var freedBytes: Int64 { removed.reduce(0) { $0 + $1.bytes } }

    /// Count and bytes per kind, in `GarbageKind` order, kinds with nothing left out.
    public var totals: [(kind: GarbageKind, count: Int, bytes: Int64)] {
        GarbageKind.allCases.compactMap { kind in
            let items = removed.filter { $0.kind == kind }
            return items.isEmpty ? nil : (kind, items.count, items.reduce(0) { $0 + $1.bytes })
        }
    }
}

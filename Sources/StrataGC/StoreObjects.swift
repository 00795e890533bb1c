import StrataModel

/// Objects of a store by kind, named by digest: what one root reaches, or what gc keeps.
public struct StoreObjects: Sendable, Equatable {
    public var blobs: Set<Digest> = []
    public var layers: Set<Digest> = []
    public var snapshots: Set<Digest> = []

    public init() {}

    public mutating func formUnion(_ other: StoreObjects) {
        blobs.formUnion(other.blobs)
        layers.formUnion(other.layers)
        snapshots.formUnion(other.snapshots)
    }
}

/// Something that keeps objects alive, and what it reaches.
public struct StoreRoot: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A lockfile this store built (`roots/lockfiles/`), at its path.
        case lockfile(path: String)
        /// A session, running or kept.
        case session(id: String, name: String?, environment: String)
        /// An image in `index.json`: its tag, or nil for an entry without one.
        case image(reference: String?, manifest: Digest)
    }

    public var kind: Kind
    public var reaches: StoreObjects

    public init(kind: Kind, reaches: StoreObjects) { self.kind = kind; self.reaches = reaches }

    /// How `system df` and notes name it.
    public var name: String {
        switch kind {
        case .lockfile(let path):
            let file = path.split(separator: "/").last.map(String.init) ?? path
            return file.hasSuffix(".lock.json") ? String(file.dropLast(".lock.json".count)) : file
        case .session(let id, let name, _): return name ?? id
        case .image(let reference, let manifest): return reference ?? "<none>@" + manifest.short
        }
    }
}

import StrataModel

extension Store {
    /// The snapshot `lockfile` was built into, when the store has it: known from the
    /// lockfile alone when every layer is pinned, else as the build recorded it (a `run`
    /// step's layer is known once it has run). Nil: it has not been built here.
    public func builtSnapshot(of lockfile: Lockfile) -> Digest? {
        if let id = lockfile.snapshotID { return hasSnapshot(id) ? id : nil }
        guard let bytes = cached(.builds, lockfile.digest.hex),
              let id = try? Digest(parsing: String(decoding: bytes, as: UTF8.self)), hasSnapshot(id) else { return nil }
        return id
    }

    /// Records what a build of `lockfile` (one with `run` steps) made, for `builtSnapshot`.
    public func recordBuild(of lockfile: Lockfile, snapshot: Digest) throws(StoreError) {
        guard lockfile.snapshotID == nil else { return }
        try storeCached(.builds, lockfile.digest.hex, Array(snapshot.description.utf8))
    }

    /// The layer a `run` step with this key made, when the store still has it.
    public func runStepLayer(_ key: Digest) -> Digest? {
        guard let bytes = cached(.runSteps, key.hex),
              let layer = try? Digest(parsing: String(decoding: bytes, as: UTF8.self)), hasLayer(layer) else { return nil }
        return layer
    }

    /// Records that the `run` step with this key made `layer`.
    public func recordRunStep(_ key: Digest, layer: Digest) throws(StoreError) {
        try storeCached(.runSteps, key.hex, Array(layer.description.utf8))
    }
}

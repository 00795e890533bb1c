/// Every key a layer has in the store, derived in one place.
///
/// A layer unpacked from a tar stream is keyed by its diff id (the stream's sha256). The
/// others are keyed by everything they are made from: a `.deb`'s files by the `.deb`'s
/// digest (its tar stream is only known after unpacking), the dpkg status and the
/// configured result of a Debian base by its packages, a flattened stack by the stack.
/// `format` is bumped when the way any of these is made changes, so that old layers are
/// not reused for new ones.
public enum LayerKeys {
    static let format = "3"

    /// The diff id of an empty tar (1024 zero bytes): the layer an environment with no
    /// layers (`scratch`) stands on.
    public static let emptyLayer: Digest = {
        do { return try Digest(hex: "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef") } catch {
            preconditionFailure("the empty layer's diff id is a valid literal")
        }
    }()

    /// The merged-/usr skeleton every Debian base starts with.
    public static let debianSkeleton = Digest.sha256(of: Array("strata merged-usr skeleton \(format)".utf8))

    /// The files of one `.deb`, by the `.deb`'s digest.
    public static func debianPackage(_ deb: Digest) -> Digest {
        Digest.sha256(of: Array("strata deb layer \(format) \(deb)".utf8))
    }

    /// The layers of a Debian base, bottom first: the skeleton, one per package, the dpkg
    /// status, and what the maintainer scripts made of them.
    public static func debianStack(architecture: String, packages: [LockedPackage]) -> [Digest] {
        [debianSkeleton] + packages.map { debianPackage($0.sha256) }
            + [debianSet("strata dpkg status", architecture, packages), debianSet("strata configured", architecture, packages)]
    }

    /// The one layer that shows the same tree as the stack `keys` (bottom first).
    public static func flattened(_ keys: [Digest]) -> Digest {
        Digest.sha256(of: Array("strata flattened \(Digest.chainID(of: keys)?.description ?? "")".utf8))
    }

    /// The flattened keys of every non-empty prefix of `keys` (bottom first), bottom first:
    /// any of them may be a flattened layer that a session of this stack mounts (a Debian
    /// base's) or that a commit of it made (its bottom layers merged).
    public static func flattenedPrefixes(_ keys: [Digest]) -> [Digest] {
        var result: [Digest] = []
        var chain: Digest?
        for key in keys {
            let next = chain.map { Digest.sha256(of: Array("\($0) \(key)".utf8)) } ?? key
            chain = next
            result.append(Digest.sha256(of: Array("strata flattened \(next)".utf8)))
        }
        return result
    }

    /// The layers a lockfile's snapshot stacks, bottom first: a Debian base's, then one
    /// per locked layer; the empty layer when there are none. Nil when a `run` step's
    /// layer is known only once it has run.
    public static func snapshot(of lockfile: Lockfile) -> [Digest]? {
        guard lockfile.isFullyPinned else { return nil }
        return stack(base: lockfile.base, above: lockfile.pinnedLayers.map(\.diffID))
    }

    /// A Debian base's layers, then `above`; the empty layer when there are none.
    public static func stack(base: LockedBase, above: [Digest]) -> [Digest] {
        var keys: [Digest] = []
        if case .debian(let debian) = base { keys = debian.layerKeys }
        keys += above
        return keys.isEmpty ? [emptyLayer] : keys
    }

    /// The key a `run` step's result is recorded under: the layers it runs on, by what
    /// they hold (a run step's layer by its diff id, never by its own key), and everything
    /// that decides what the command does (`definition`, canonical bytes of its argv,
    /// environment, working directory, user ids and network). A step re-run that makes
    /// the same layer leaves the keys of every later step as they were.
    public static func runStep(below: [Digest], definition: [UInt8]) -> Digest {
        let chain = Digest.chainID(of: below)?.description ?? ""
        return Digest.sha256(of: Array("strata run step \(format) \(chain)\n".utf8) + definition)
    }

    private static func debianSet(_ kind: String, _ architecture: String, _ packages: [LockedPackage]) -> Digest {
        var text = "\(kind) \(format) \(architecture)\n"
        for package in packages { text += "\(package.name):\(package.architecture)=\(package.version) \(package.sha256)\n" }
        return Digest.sha256(of: Array(text.utf8))
    }
}

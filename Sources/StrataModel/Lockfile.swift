/// The resolved manifest: every input of an environment pinned by digest.
///
/// Guarantees: encoding is canonical (see `Lockfile+Coding.swift`), so equal
/// lockfiles are byte-identical; it names no host paths outside what the
/// manifest wrote, and no mirror hosts.
public struct Lockfile: Sendable, Equatable {
    /// Bumped when the format changes incompatibly; older strata refuses newer files.
    public static let currentVersion: Int64 = 1

    public var version: Int64
    /// sha256 of the manifest's bytes: a different manifest makes the lock stale.
    public var manifestDigest: Digest
    public var platform: Platform
    public var base: LockedBase
    /// Every layer above a Debian base, bottom first: the base image's layers, then one
    /// per step (JSON `layers`).
    public var steps: [LockedStep]
    /// The environment this one extends, pinned by the digest of its lockfile's bytes.
    public var parent: LockedParent?

    public init(version: Int64 = Lockfile.currentVersion, manifestDigest: Digest, platform: Platform,
                base: LockedBase, steps: [LockedStep], parent: LockedParent? = nil) {
        self.version = version; self.manifestDigest = manifestDigest; self.platform = platform
        self.base = base; self.steps = steps; self.parent = parent
    }

    /// The layers pinned by digest (all of them unless there are `run` steps).
    public var pinnedLayers: [LockedLayer] { steps.compactMap(\.layer) }

    /// True when every layer is pinned by digest, so the snapshot is known before building.
    public var isFullyPinned: Bool { steps.allSatisfy { $0.layer != nil } }

    /// Steps whose result depends on more than the lock (a `run` step with the host's network).
    public var unreproducibleSteps: [Manifest.RunStep] {
        steps.compactMap { if case .run(let run) = $0, run.network == .host { return run } else { return nil } }
    }

    /// sha256 of the canonical bytes: what a build of this lockfile is recorded under.
    public var digest: Digest { Digest.sha256(of: encoded()) }

    /// The base image's runtime defaults; nil unless the base is an image.
    public var imageDefaults: ImageDefaults? {
        if case .image(_, _, let config, _) = base { return config }
        return nil
    }

    /// The snapshot this lockfile's layers stack into (`LayerKeys.snapshot`): its chain id;
    /// nil when a `run` step's layer is known only once it has run.
    public var snapshotID: Digest? {
        guard let keys = LayerKeys.snapshot(of: self) else { return nil }
        // `LayerKeys.snapshot` is never empty, so it always has a chain id.
        return Digest.chainID(of: keys) ?? keys[0]
    }
}

/// The pinned base of an environment.
public enum LockedBase: Sendable, Equatable {
    case scratch
    /// An OCI image: the reference as written, its manifest digest, and the
    /// runtime defaults from its config (which the session applies under the manifest's own);
    /// for an image from a registry, where it was pinned (a build pulls exactly that digest).
    case image(reference: String, manifestDigest: Digest, config: ImageDefaults, registry: RegistryPin? = nil)
    /// A Debian suite's packages, pinned.
    case debian(LockedDebian)
}

/// Where a registry base was pinned: its repository (`HOST/REPO`, the registry's own, never a
/// mirror's) and, when the tag named an index, the index's digest (the manifest pinned is
/// this platform's image in it). No credentials: whoever builds uses their own.
public struct RegistryPin: Sendable, Equatable {
    public var repository: String
    public var index: Digest?
    public init(repository: String, index: Digest? = nil) { self.repository = repository; self.index = index }
}

/// The parts of an OCI image config that a session uses.
public struct ImageDefaults: Sendable, Equatable {
    public var env: [String]
    public var workingDir: String?
    public var entrypoint: [String]?
    public var cmd: [String]?
    /// The config's `User` (`NAME`, `UID`, `UID:GID`…): who the command runs as unless the manifest says.
    public var user: String?
    /// The config's `Labels`, which an image committed on top keeps (under the manifest's own).
    public var labels: [String: String]
    public init(env: [String] = [], workingDir: String? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil, user: String? = nil,
                labels: [String: String] = [:]) {
        self.env = env; self.workingDir = workingDir; self.entrypoint = entrypoint; self.cmd = cmd; self.user = user
        self.labels = labels
    }
}

/// `"from": {"env": …}` pinned: the reference as written and the sha256 of the extended
/// environment's lockfile, whose layers come first in this one.
public struct LockedParent: Sendable, Equatable {
    public var reference: String
    public var lockfile: Digest
    public init(reference: String, lockfile: Digest) { self.reference = reference; self.lockfile = lockfile }
}

/// One layer of a lockfile above its Debian base.
public enum LockedStep: Sendable, Equatable {
    /// Bytes pinned by digest: a base image's layer, a copied tree, a tarball.
    case layer(LockedLayer)
    /// A command whose layer is known once it has run: pinned by its definition, built
    /// under a key of what it runs on (`LayerKeys.runStep`).
    case run(Manifest.RunStep)

    public var layer: LockedLayer? {
        if case .layer(let layer) = self { return layer }
        return nil
    }

    /// True for what a manifest step made (not a base image's layer).
    public var isManifestStep: Bool {
        if case .layer(let layer) = self, case .image = layer.source { return false }
        return true
    }

    /// The step as a person reads it (`Manifest.Step.summary`).
    public var summary: String {
        switch self {
        case .run(let run): return Manifest.Step.run(run).summary
        case .layer(let layer):
            switch layer.source {
            case .image(let reference): return "layer of \(reference)"
            case .copy(let from, let to): return Manifest.Step.copy(from: from, to: to).summary
            case .tar(let path): return Manifest.Step.tar(path).summary
            }
        }
    }
}

/// One pinned layer: where it comes from, the bytes that carry it, and what it unpacks to.
public struct LockedLayer: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// Layer `index` of the base image.
        case image(reference: String)
        /// A copied host tree (as written in the manifest), archived deterministically.
        case copy(from: String, to: String)
        /// A local tarball (as written in the manifest).
        case tar(path: String)
    }

    public var source: Source
    /// sha256 of the blob (compressed bytes for image layers and tarballs).
    public var digest: Digest
    /// sha256 of the uncompressed tar: the layer's identity in the store.
    public var diffID: Digest
    public var size: Int64

    public init(source: Source, digest: Digest, diffID: Digest, size: Int64) {
        self.source = source; self.digest = digest; self.diffID = diffID; self.size = size
    }
}

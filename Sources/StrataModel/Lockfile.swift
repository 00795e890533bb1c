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
    /// Every layer, bottom first: the base image's layers, then one per step.
    public var layers: [LockedLayer]

    public init(version: Int64 = Lockfile.currentVersion, manifestDigest: Digest, platform: Platform,
                base: LockedBase, layers: [LockedLayer]) {
        self.version = version; self.manifestDigest = manifestDigest; self.platform = platform
        self.base = base; self.layers = layers
    }

    /// The base image's runtime defaults; nil unless the base is an image.
    public var imageDefaults: ImageDefaults? {
        if case .image(_, _, let config) = base { return config }
        return nil
    }

    /// The snapshot this lockfile's layers stack into (`LayerKeys.snapshot`): its chain id.
    public var snapshotID: Digest {
        let keys = LayerKeys.snapshot(of: self)
        // `LayerKeys.snapshot` is never empty, so it always has a chain id.
        return Digest.chainID(of: keys) ?? keys[0]
    }
}

/// The pinned base of an environment.
public enum LockedBase: Sendable, Equatable {
    case scratch
    /// An OCI image: the reference as written, its manifest digest, and the
    /// runtime defaults from its config (which the session applies under the manifest's own).
    case image(reference: String, manifestDigest: Digest, config: ImageDefaults)
    /// A Debian suite's packages, pinned.
    case debian(LockedDebian)
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

/// What a lockfile pins in a store, by name: what gc keeps while a built lockfile is a root.
extension Lockfile {
    /// Every blob of its inputs: the blobs of its pinned layers and its `.deb`s.
    public var pinnedBlobs: [Digest] {
        var blobs = pinnedLayers.map(\.digest)
        if case .debian(let debian) = base { blobs += debian.packages.map(\.sha256) }
        return blobs
    }

    /// The layers known from the lockfile alone: a Debian base's layers and their
    /// flattened layer, then the pinned layers. (`run` steps' layers are known once built.)
    public var pinnedLayerKeys: [Digest] {
        var keys: [Digest] = []
        if case .debian(let debian) = base { keys = debian.layerKeys + [LayerKeys.flattened(debian.layerKeys)] }
        return keys + pinnedLayers.map(\.diffID)
    }

    /// The manifest of an image base, whose documents and blobs a build stored.
    public var pinnedImageManifest: Digest? {
        if case .image(_, let manifest, _, _) = base { return manifest }
        return nil
    }
}

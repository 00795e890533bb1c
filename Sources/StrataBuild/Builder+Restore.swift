import StrataEnvironment
import StrataModel
import StrataStore

extension Builder {
    /// Fetches again every pinned input blob the store lacks, even when the layers made from
    /// it are there (`fsck --repair` after quarantining a corrupt `.deb` or layer blob): a
    /// `.deb` from the mirrors, a layer of a registry base by its pinned digest, a copied tree
    /// or tarball from the project. Store images' blobs are the store's own and cannot be.
    public func restoreInputs(_ environment: LoadedEnvironment, lockfile: Lockfile) throws(StrataError) -> Int {
        var restored = 0
        if case .debian(let debian) = lockfile.base {
            let missing = debian.packages.filter { !store.hasBlob($0.sha256) }
            try download(missing, environment: environment, debian: debian)
            restored += missing.count
        }
        if case .image(_, _, _, _?) = lockfile.base,
           lockfile.pinnedLayers.contains(where: { if case .image = $0.source { !store.hasBlob($0.digest) } else { false } }) {
            try pullPinnedBase(lockfile, evenWithLayers: true)
            restored += 1
        }
        for layer in lockfile.pinnedLayers where !store.hasBlob(layer.digest) {
            if case .image = layer.source { continue }
            try fetch(layer, environment: environment)
            restored += 1
        }
        return restored
    }
}

import Glibc
import StrataArchive
import StrataModel
import StrataOCI
import StrataStore

/// Resolves a manifest into a lockfile: every input pinned by digest.
///
/// Resolving is a pure function of the inputs' bytes: the same manifest and
/// inputs give an equal `Lockfile` (and so identical bytes). Copied trees are
/// archived into the store while their digest is taken, so a later build finds
/// their blobs already there.
struct Locker {
    let store: Store

    func lock(_ environment: LoadedEnvironment) throws(StrataError) -> Lockfile {
        let paths = environment.paths
        var layers: [LockedLayer] = []
        var base = LockedBase.scratch
        if case .ociLayout(let directory, let tag) = environment.manifest.base {
            let image = try resolveImage(layout: paths.resolve(directory), tag: tag)
            let reference = environment.manifest.base.reference
            base = .image(reference: reference, manifestDigest: image.manifestDigest, config: image.defaults)
            for (layer, diffID) in zip(image.layers, image.diffIDs) {
                layers.append(LockedLayer(source: .image(reference: reference), digest: layer.digest, diffID: diffID, size: layer.size))
            }
        }
        for step in environment.manifest.steps {
            switch step {
            case .copy(let from, let to):
                let (digest, size) = try archiveCopy(source: paths.resolve(from), target: to)
                layers.append(LockedLayer(source: .copy(from: from, to: to), digest: digest, diffID: digest, size: size))
            case .tar(let path):
                let file = paths.resolve(path)
                let pinned: (digest: Digest, size: Int64)
                do { pinned = try HostFile.digest(of: file) } catch {
                    throw .input(path: file, reason: "cannot read the tarball of a \"tar\" step: \(error.reason)")
                }
                let diffID: Digest
                do { diffID = try TarDigest.diffID(ofArchiveAt: file) } catch { throw .archive(path: file, error) }
                layers.append(LockedLayer(source: .tar(path: path), digest: pinned.digest, diffID: diffID, size: pinned.size))
            }
        }
        return Lockfile(manifestDigest: environment.manifestDigest, platform: .current, base: base, layers: layers)
    }

    func resolveImage(layout: String, tag: String?) throws(StrataError) -> OCIImage {
        do { return try OCILayout.resolve(layout: layout, tag: tag) } catch { throw .image(error) }
    }

    /// Archives a copied tree deterministically into the store; returns the blob's digest and size.
    func archiveCopy(source: String, target: String) throws(StrataError) -> (Digest, Int64) {
        let temporary = store.temporaryPath("copy")
        let digest: Digest
        do { digest = try TreeArchiver.archive(source: source, target: target, to: temporary) } catch {
            _ = unlink(temporary)
            if case .unreadable(_, let reason) = error {
                throw .input(path: source, reason: "cannot copy it into the environment: \(reason)")
            }
            throw .archive(path: source, error)
        }
        let size = fileSize(temporary)
        if store.hasBlob(digest) {
            _ = unlink(temporary)
        } else {
            do { _ = try store.publishBlob(temporaryFile: temporary, expected: digest) } catch { throw .store(error) }
        }
        return (digest, size)
    }
}


func fileSize(_ path: String) -> Int64 {
    var st = stat()
    return stat(path, &st) == 0 ? Int64(st.st_size) : 0
}

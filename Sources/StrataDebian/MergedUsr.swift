import Glibc
import StrataOS
import StrataArchive

/// The merged-/usr layout of Debian 12 and later: `/bin`, `/sbin`, `/lib` and `/lib64`
/// are symbolic links into `/usr`. Package layers are unpacked with their
/// top-level directories moved under `usr/` (`UnpackOptions.mergedUsr`), and the skeleton
/// layer at the bottom of every Debian snapshot provides the links.
public enum MergedUsr {
    /// The top-level directories that live under `/usr`.
    public static let directories = UnpackOptions.mergedUsrDirectories

    /// Writes the skeleton layer into `directory`, an existing empty directory: `usr/` and
    /// `usr/bin`, `usr/sbin`, `usr/lib`, `usr/lib64` (mode 0755,
    /// owner 0:0) and the links `bin -> usr/bin` … `lib64 -> usr/lib64` (owner 0:0).
    ///
    /// Guarantees: every item, and `directory` itself (mode 0755, owner 0:0), gets the mtime
    /// `mtime`, so two skeletons are identical trees; everything is written through directory
    /// descriptors, nothing follows a link.
    public static func skeleton(into directory: String, mtime: Int64 = 0) throws(DebLayerError) {
        let io = { (path: String, reason: String) in DebLayerError.layerIO(deb: nil, path: path, reason: reason) }
        let tree: LayerTree
        do { tree = try LayerTree(path: directory) } catch { throw io(directory, error.reason) }
        let times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
        do throws(LayerTree.Failure) {
            let usr = try tree.makeDirectory(named: "usr", in: tree.root.raw, display: "usr")
            for name in directories {
                let child = try tree.makeDirectory(named: name, in: usr.raw, display: "usr/" + name)
                try tree.setTimes(child.raw, mtime: mtime, display: "usr/" + name)
            }
            try tree.setTimes(usr.raw, mtime: mtime, display: "usr")
            for name in directories {
                guard symlinkat("usr/" + name, tree.root.raw, name) == 0 else { throw LayerTree.Failure(name, SystemError.text(errno)) }
                guard fchownat(tree.root.raw, name, 0, 0, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw LayerTree.Failure(name, SystemError.text(errno))
                }
                var linkTimes = times
                guard utimensat(tree.root.raw, name, &linkTimes, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw LayerTree.Failure(name, SystemError.text(errno))
                }
            }
            try tree.normalizeDirectory(tree.root.raw, display: "/")
            try tree.setTimes(tree.root.raw, mtime: mtime, display: "/")
        } catch {
            throw io(error.path, error.reason)
        }
    }

    /// `components` with a first component of `bin`, `sbin`, `lib`, … moved under `usr`.
    static func map(_ components: [[UInt8]]) -> [[UInt8]] {
        guard let first = components.first, directories.contains(where: { Array($0.utf8) == first }) else { return components }
        return [Array("usr".utf8)] + components
    }
}

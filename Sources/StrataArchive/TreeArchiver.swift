import StrataModel

/// Writes a deterministic, uncompressed PAX tar of a host file or directory,
/// placed under an absolute target path inside the layer.
///
/// Deterministic: entries sorted by path, uid/gid 0, mtimes 0, no atime/ctime,
/// no user or group names, modes and symlink targets and xattrs (except
/// `trusted.*`/`security.*` overlay internals) kept, hardlinks kept as hardlinks.
/// The same tree always gives the same bytes, so its sha256 is the tree's digest.
public enum TreeArchiver {
    /// Writes the tar to `output` and returns its sha256 (which is also its diff id).
    public static func archive(source: String, target: String, to output: String) throws(ArchiveError) -> Digest {
        throw .unreadable(path: source, reason: "not implemented")
    }
}

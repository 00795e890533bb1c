/// Why an archive could not be read, written or unpacked. Each case names the
/// archive or entry it is about.
public enum ArchiveError: Error, Equatable, Sendable {
    /// The archive file could not be opened or read (path, reason).
    case unreadable(path: String, reason: String)
    /// Not a tar (or not a compression we read), truncated, or trailing garbage.
    case corrupt(path: String, reason: String)
    /// An entry that would escape the layer or write through a link; nothing of it was written.
    case unsafeEntry(entry: String, reason: String)
    /// A cap on decompressed bytes, entry count, name, PAX header or xattr size was hit.
    case limitExceeded(entry: String, limit: String)
    /// A system call failed while writing the layer (path inside the layer, errno text).
    case io(path: String, reason: String)
}

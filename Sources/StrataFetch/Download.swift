import StrataModel

/// One file to download, tried at each of a `Fetcher`'s mirrors in order.
///
/// What arrives is checked while it streams: with `size` the transfer is refused as soon as
/// more bytes arrive and at its end if fewer did; without it, once more than `limit` bytes
/// arrived; with `digest`, at its end unless the bytes' sha256 is exactly that.
public struct Download: Sendable, Equatable {
    /// The cap on a file of unknown size: bigger than any Debian index (bookworm's main
    /// `Packages` is about 45 MB), small enough that a hostile mirror cannot fill the disk.
    public static let defaultLimit: Int64 = 256 << 20

    /// Where the file lies below each mirror's base URL, e.g. `dists/bookworm/InRelease` or
    /// `pool/main/b/bash/bash_5.2_amd64.deb`: relative, without `.`, `..` or empty components.
    public var path: String
    /// The file to create. It must not exist (it is created with `O_EXCL`, mode 0644), and it
    /// does not exist after a failed download.
    public var destination: String
    /// The sha256 the bytes must have, when it is known.
    public var digest: Digest?
    /// The exact size in bytes, when it is known.
    public var size: Int64?
    /// The most bytes accepted when `size` is unknown.
    public var limit: Int64

    public init(path: String, destination: String, digest: Digest? = nil, size: Int64? = nil, limit: Int64 = Download.defaultLimit) {
        self.path = path
        self.destination = destination
        self.digest = digest
        self.size = size
        self.limit = limit
    }
}

/// A completed download: the destination holds exactly these bytes.
public struct Fetched: Sendable, Equatable {
    /// The sha256 of the bytes written (the pinned digest, when the download had one).
    public var digest: Digest
    public var size: Int64
    /// The mirror, as given to the `Fetcher`, that served the bytes.
    public var mirror: String

    public init(digest: Digest, size: Int64, mirror: String) {
        self.digest = digest
        self.size = size
        self.mirror = mirror
    }
}

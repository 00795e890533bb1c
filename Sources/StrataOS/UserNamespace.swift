import Glibc

/// The user namespace this process runs in. A rootless strata enters one of its own when it
/// starts (the caller's uid kept, ids 0…65535 from `/etc/subuid`, as `podman unshare`), so
/// that unpacking with owners, mounting overlays and running maintainer scripts work as for
/// root; what differs is said here.
public enum UserNamespace: Sendable, Equatable {
    /// The initial namespace (`uid_map` is `0 0 4294967295`): strata runs as root.
    case none
    /// A namespace with a subordinate id range: ids 0…65535 exist.
    case full
    /// A namespace mapping one id (no `/etc/subuid` range): only uid and gid 0.
    case single

    /// This process's, read once from `/proc/self/uid_map` (after the CLI entered its own).
    public static let current: UserNamespace = {
        // Without /proc (a chroot) there is no namespace strata made: the initial one.
        do { return parse(uidMap: String(decoding: try HostFile.read("/proc/self/uid_map", limit: 1 << 16), as: UTF8.self)) } catch {
            return .none
        }
    }()

    /// The namespace a `uid_map` describes.
    public static func parse(uidMap: String) -> UserNamespace {
        let lines = uidMap.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        if lines.count == 1, lines[0] == ["0", "0", "4294967295"] { return .none }
        let count = lines.reduce(UInt64(0)) { $0 + ($1.count == 3 ? UInt64($1[2]) ?? 0 : 0) }
        return count <= 1 ? .single : .full
    }

    /// Where overlayfs keeps its bookkeeping (`opaque`, `origin`…): `trusted.*` needs the
    /// initial namespace, so a rootless store's layers and sessions use `user.overlay.*`
    /// (overlay's `userxattr` mode).
    public var overlayXattrPrefix: String { self == .none ? "trusted.overlay." : "user.overlay." }
}

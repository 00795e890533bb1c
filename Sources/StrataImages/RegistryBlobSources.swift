import StrataModel
import StrataStore

/// Which registry repositories are known to hold a blob (`HOST/REPO`), from the pulls and
/// pushes of this store: a push to another repository of the same registry mounts the blob
/// from one of them instead of uploading it again, as docker's distribution metadata lets it.
struct RegistryBlobSources {
    let store: Store
    /// The newest few are kept: enough to find a mount, not a history.
    static let kept = 8

    func repositories(holding digest: Digest) -> [String] {
        guard let bytes = store.cached(.registryBlobs, digest.hex) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// The repositories of `host` that hold `digest`, as mount sources (`REPO`).
    func mountSources(of digest: Digest, on host: String) -> [String] {
        repositories(holding: digest).compactMap { $0.hasPrefix(host + "/") ? String($0.dropFirst(host.count + 1)) : nil }
    }

    /// Remembers that `repository` holds every one of `digests`. A record that cannot be
    /// written costs a later push an upload, nothing more.
    func record(_ digests: [Digest], in repository: String) {
        for digest in Set(digests) {
            let known = repositories(holding: digest)
            // Unchanged records are not written again: a push of an unchanged image syncs nothing.
            if known.first == repository { continue }
            var list = known.filter { $0 != repository }
            list.insert(repository, at: 0)
            do { try store.storeCached(.registryBlobs, digest.hex, Array(list.prefix(Self.kept).joined(separator: "\n").utf8)) } catch {
                continue
            }
        }
    }
}

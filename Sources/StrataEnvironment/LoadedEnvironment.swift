import StrataModel
import StrataOS

/// A manifest read from disk, validated, with the digest of its bytes.
public struct LoadedEnvironment: Sendable {
    public var paths: EnvironmentPaths
    public var manifest: Manifest
    public var manifestDigest: Digest

    public init(paths: EnvironmentPaths) throws(StrataError) {
        self.paths = paths
        let bytes: [UInt8]
        do { bytes = try HostFile.read(paths.manifest, limit: 1 << 20) } catch {
            throw .usage("cannot read the manifest \(paths.manifest): \(error.reason)")
        }
        do { manifest = try Manifest.decode(bytes, file: paths.manifest) } catch { throw .manifest(error) }
        manifestDigest = Digest.sha256(of: bytes)
    }
}

import StrataJSON
import StrataModel
import StrataOS

/// A manifest read from disk, validated, with the digest of its bytes.
///
/// A manifest that extends another (`"from": {"env": …}`) is merged with it here
/// (`Manifest.extending`): `manifest` is the whole environment, the parent's paths made
/// relative to this manifest's directory; `manifestDigest` covers every manifest of the chain.
public struct LoadedEnvironment: Sendable {
    public var paths: EnvironmentPaths
    public var manifest: Manifest
    public var manifestDigest: Digest
    /// Where each step of `manifest` was written: the manifest file and the step's place in it.
    public var stepOrigins: [(file: String, location: SourceLocation)]
    /// `"from": {"env": REF}` as written, when this manifest extends another.
    public var parentReference: String?
    private var parentStorage: [LoadedEnvironment]

    /// The environment this one extends, loaded (and merged with its own parents).
    public var parent: LoadedEnvironment? { parentStorage.first }

    public init(paths: EnvironmentPaths) throws(StrataError) {
        try self.init(paths: paths, chain: [])
    }

    init(paths: EnvironmentPaths, chain: [String]) throws(StrataError) {
        self.paths = paths
        let bytes: [UInt8]
        do { bytes = try HostFile.read(paths.manifest, limit: 1 << 20) } catch {
            throw .usage("cannot read the manifest \(paths.manifest): \(error.reason)")
        }
        let own: Manifest
        do { own = try Manifest.decode(bytes, file: paths.manifest) } catch { throw .manifest(error) }
        stepOrigins = own.stepLocations.map { (paths.manifest, $0) }
        guard case .environment(let reference) = own.base else {
            manifest = own
            manifestDigest = Digest.sha256(of: bytes)
            parentReference = nil
            parentStorage = []
            return
        }
        let argument = reference.contains("/") || reference.hasSuffix(".json")
            ? EnvironmentPaths.absolute(reference, from: paths.directory) : paths.directory + "/" + reference + ".json"
        let parentPaths: EnvironmentPaths
        do { parentPaths = try EnvironmentPaths(argument: argument, currentDirectory: paths.directory) } catch {
            throw .input(path: paths.manifest, reason: "\"from\": {\"env\": \"\(reference)\"} names no manifest (\(argument) does not exist); create it or fix \"from\"")
        }
        let visited = chain + [paths.manifest]
        if let start = visited.firstIndex(of: parentPaths.manifest) {
            let cycle = (visited[start...] + [parentPaths.manifest]).joined(separator: " → ")
            throw .input(path: paths.manifest, reason: "the environments extend each other in a cycle: \(cycle); one of them must start from a base (scratch, an image or Debian)")
        }
        let parent = try LoadedEnvironment(paths: parentPaths, chain: visited)
        let parentDirectory = parentPaths.directory, directory = paths.directory
        let rebased = parent.manifest.mappingPaths { path in
            EnvironmentPaths.relative(EnvironmentPaths.absolute(path, from: parentDirectory), from: directory)
        }
        var merged = own.extending(rebased)
        merged.base = rebased.base
        if !merged.packages.isEmpty, case .debian = merged.base {} else if !merged.packages.isEmpty {
            throw .input(path: paths.manifest, reason: "\"packages\" needs a Debian base, and \(parentPaths.manifest), which this manifest extends, does not start from one")
        }
        manifest = merged
        manifestDigest = Digest.sha256(of: bytes + Array("\nextends \(parent.manifestDigest)".utf8))
        stepOrigins = parent.stepOrigins + stepOrigins
        parentReference = reference
        parentStorage = [parent]
    }
}

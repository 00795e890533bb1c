import StrataEnvironment
import StrataJSON
import StrataModel
import StrataOS
import StrataSessions
import StrataStore

/// Containers as `strata serve` makes them: a kept session on an image of the store, its
/// settings a manifest of their own. The manifest is a file (`STORE/containers/envs/`)
/// because a kept session is entered again from its manifest and lockfile, as every
/// other session is; so `strata sessions`, `strata exec` and `strata commit` work on
/// containers unchanged.
extension Engine {

    /// Makes the environment `manifest` describes (a `from` image of the store and
    /// session settings; `"project": false` is added), locked and built, and a kept
    /// session of it named `name` that runs nothing yet (`Sessions.start` runs it), fsynced
    /// when `durable` (a container removed when it ends need not be).
    ///
    /// The manifest file is named by its content, so containers of the same image and
    /// settings share one lockfile: fifty `docker run`s of one image lock it once.
    public func createContainer(manifest: [String: JSONValue], label: String, name: String?, durable: Bool = true) throws(StrataError) -> SessionRecord {
        var fields = manifest
        fields["project"] = .bool(false)
        let path = try keepManifest(fields, in: store.containerProject + "/envs", name: label)
        let environment = try load(path)
        // Locked every time, quietly: the lockfile is the store's own, and a moved tag is a new image as Docker's create resolves it.
        let (lockfile, _) = try lock(environment)
        let built = try build(environment, lockfile: lockfile)
        for warning in built.warnings { context.note(warning) }
        return try sessions.create(environment, snapshot: built.snapshot, name: name, durable: durable)
    }

    /// Writes `manifest` to `directory/NAME-HASH.json`, named by its content (once: the same
    /// manifest is the same file), and returns the path. For manifests a request gives
    /// whole (containers', the API's), which need a file to be locked and entered again.
    public func keepManifest(_ manifest: [String: JSONValue], in directory: String, name: String) throws(StrataError) -> String {
        let bytes = JSON.canonicalBytes(.object(manifest)) + [0x0a]
        let stem = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "-" }.prefix(40))
        let path = directory + "/" + stem + "-" + Digest.sha256(of: bytes).short + ".json"
        if !FileSystem.exists(path) {
            do {
                try FileSystem.makeDirectories(directory, mode: 0o755)
                try HostFile.writeAtomically(bytes, to: path)
            } catch { throw .input(path: path, reason: "cannot keep the manifest: \(error.reason)") }
        }
        return path
    }
}

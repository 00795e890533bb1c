import StrataEnvironment
import StrataModel
import StrataOS
import StrataSandbox
import StrataSessions
import StrataStore

/// A command run in a session on a stack of layers, whose changes become a layer of their
/// own: how a Debian base's maintainer scripts become its configured layer, and how `run`
/// steps become theirs.
///
/// The session is unnamed and removed afterwards; its upper dir — additions, changes,
/// whiteouts, opaque directories — is normalized (leftovers removed, mtimes clamped to
/// `epoch`, the overlay's bookkeeping xattrs dropped) and adopted as layer `key`. A step
/// whose command fails publishes nothing.
struct LayerStep: Sendable {
    /// The key the layer is published under (`LayerKeys`): what it is made from.
    var key: Digest
    /// The layers the command runs on, bottom first (all published).
    var below: [Digest]
    var argv: [String]
    /// `KEY=VALUE`, exactly the command's environment.
    var environment: [String]
    var workingDirectory = "/"
    var hostname = "localhost"
    var isolateNetwork = true
    var mounts: [SessionMount] = []
    var confinement = Confinement()
    /// The ceiling of every mtime in the layer (`SOURCE_DATE_EPOCH`).
    var epoch: Int64
    /// Absolute paths of files the command leaves that describe no state (logs, caches).
    var leftovers: [String] = []
    /// A file inside the session whose text explains a failure (the command's log).
    var log: String?
    /// What `strata sessions` shows as the session's environment while it runs.
    var label: String

    /// How the command ended when it did not succeed.
    struct Failure: Error {
        var status: Int32
        /// The end of `log`, when the step has one.
        var log: String
    }
}

extension Builder {
    /// Runs `step` and publishes its layer; `.failure` when the command exits non-zero.
    func run(_ step: LayerStep) throws(StrataError) -> Result<Void, LayerStep.Failure> {
        let sessions = Sessions(store: store, context: context)
        let session: SessionRecord
        let lowerDirs: [String]
        do {
            let snapshot = try store.publishSnapshot(diffIDs: step.below)
            lowerDirs = Sessions.withoutRepeats(try store.lowerDirs(for: snapshot))
            session = try store.createSession(snapshot: snapshot, name: nil, environment: step.label)
        } catch { throw .store(error) }
        defer { sessions.discard(session.id) }
        var spec = SessionSpec(
            lowerDirs: lowerDirs, upperDir: session.upperPath, workDir: session.workPath, rootDir: session.rootPath,
            argv: step.argv, environment: step.environment, workingDirectory: step.workingDirectory,
            hostname: step.hostname, isolateNetwork: step.isolateNetwork, mounts: step.mounts)
        spec.confinement = step.confinement
        let exit = try sessions.runHoldingLock(session.id, spec).get()
        guard exit.status == 0 else {
            // The log says why; one that cannot be read leaves only the status to say it.
            let log = step.log.flatMap { try? HostFile.read(session.upperPath + $0, limit: 4 << 20) }
            return .failure(LayerStep.Failure(status: exit.status, log: log.map { String(decoding: $0, as: UTF8.self) } ?? ""))
        }
        try context.cancellation.check()
        do {
            try LayerNormalizer(root: session.upperPath, epoch: step.epoch).normalize(removing: step.leftovers)
            try store.adoptLayer(key: step.key, directory: session.upperPath)
        } catch { throw .store(error) }
        return .success(())
    }
}

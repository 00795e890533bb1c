import Glibc
import StrataArchive
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
    var user = SessionUser.root
    var limits = ResourceLimits()
    var nofile: UInt64?
    /// What the layer is published under: `.key(key)`, or `.content` — its own diff id
    /// (a `run` step's, so that the steps above it are keyed by what it holds).
    var identity = Identity.key
    /// Drop what commands commonly leave (`LayerNormalizer.runStepLeftovers`) too.
    var commonLeftovers = false
    /// Paths the session mounts over (a step's caches): removed from the layer when they are
    /// empty directories the mount made.
    var mountPoints: [String] = []
    /// Where the command's stdout and stderr go as it writes them; nil: strata's own.
    var onOutput: (@Sendable ([UInt8]) -> Void)?
    /// On failure, the session is kept under this name (and recorded with `manifest`) for
    /// `strata shell --session NAME`; nil: removed.
    var keepFailedAs: String?
    var manifest: String?

    enum Identity { case key, content }

    /// How the command ended when it did not succeed.
    struct Failure: Error {
        var status: Int32
        /// The end of `log`, or of the command's output when it is captured.
        var log: String
        /// The session kept for a look inside (`keepFailedAs`).
        var session: String?
    }
}

extension Builder {
    /// Runs `step` and publishes its layer; returns the layer's id (`key`, or its diff id),
    /// or `.failure` when the command exits non-zero.
    func run(_ step: LayerStep) throws(StrataError) -> Result<Digest, LayerStep.Failure> {
        let sessions = Sessions(store: store, context: context)
        let session: SessionRecord
        let lowerDirs: [String]
        do {
            let snapshot = try store.publishSnapshot(diffIDs: step.below)
            lowerDirs = Sessions.withoutRepeats(try store.lowerDirs(for: snapshot))
            session = try store.createSession(snapshot: snapshot, name: nil, environment: step.label, manifest: step.manifest)
        } catch { throw .store(error) }
        var keep = false
        defer { if !keep { sessions.discard(session.id) } }
        var spec = SessionSpec(
            lowerDirs: lowerDirs, upperDir: session.upperPath, workDir: session.workPath, rootDir: session.rootPath,
            argv: step.argv, environment: step.environment, workingDirectory: step.workingDirectory,
            hostname: step.hostname, isolateNetwork: step.isolateNetwork, mounts: step.mounts,
            user: step.user, limits: step.limits, nofile: step.nofile)
        spec.confinement = step.confinement
        var output: OutputPipe?
        if let onOutput = step.onOutput {
            do { output = try OutputPipe(onOutput: onOutput) } catch { throw .input(path: session.path, reason: error.description) }
            spec.output = output?.writeEnd
        }
        let outcome = sessions.runHoldingLock(session.id, spec)
        let tail = output?.finish() ?? []
        let exit = try outcome.get()
        guard exit.status == 0 else {
            // The log says why; one that cannot be read leaves only the status to say it.
            var log = step.log.flatMap { try? HostFile.read(session.upperPath + $0, limit: 4 << 20) } ?? tail
            if log.isEmpty { log = tail }
            keep = step.keepFailedAs != nil
            return .failure(LayerStep.Failure(status: exit.status, log: String(decoding: log, as: UTF8.self),
                                              session: keep ? keptName(session, step.keepFailedAs) : nil))
        }
        try context.cancellation.check()
        let layer: Digest
        do throws(StoreError) {
            for target in step.mountPoints { Self.removeEmptyMountPoint(session.upperPath + target) }
            try LayerNormalizer(root: session.upperPath, epoch: step.epoch, commonLeftovers: step.commonLeftovers)
                .normalize(removing: step.leftovers)
            switch step.identity {
            case .key: layer = step.key
            case .content:
                do { layer = try TreeArchiver.digest(source: session.upperPath, target: "/", options: .sessionChange(epoch: step.epoch)) } catch {
                    throw StoreError.io(path: session.upperPath, reason: error.description)
                }
            }
            try store.adoptLayer(key: layer, directory: session.upperPath)
        } catch { throw .store(error) }
        return .success(layer)
    }

    /// Names a failed step's session `name`, replacing the one an earlier failure left; the
    /// session's id when the name is taken by a session in use (a concurrent build's).
    func keptName(_ session: SessionRecord, _ name: String?) -> String {
        guard let name else { return session.id }
        do {
            if let earlier = try store.session(named: name), earlier.id != session.id { try store.removeSession(earlier.id) }
            try store.nameSession(session.id, name)
            return name
        } catch {
            return session.id
        }
    }

    /// A mount point the sandbox made for a cache: an empty directory in the upper dir,
    /// not a whiteout or anything the command left there (those stay).
    static func removeEmptyMountPoint(_ path: String) {
        // Not empty, or not made by the mount: it is the step's, and stays.
        guard Directory.isEmpty(path) else { return }
        _ = rmdir(path)
    }
}

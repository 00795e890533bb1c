import Glibc
import StrataEnvironment
import StrataModel
import StrataSandbox
import StrataStore

/// Sessions made first and started later, as Docker's containers are (`docker create`,
/// then `docker start` as often as wanted): what `strata serve` builds its containers on.
extension Sessions {
    /// A kept session on `snapshot` (the lockfile's, built) that runs nothing yet. Its
    /// record names the manifest, so that `start` finds the settings again.
    /// `durable` fsyncs it: a session that is to outlive its command (not `--rm`).
    public func create(_ environment: LoadedEnvironment, snapshot: Digest, name: String?, durable: Bool = true) throws(StrataError) -> SessionRecord {
        do {
            return try store.createSession(
                snapshot: snapshot, name: name, environment: environment.paths.name, manifest: environment.paths.manifest,
                volumes: Self.volumeNames(environment.manifest), durable: durable)
        } catch { throw .store(error) }
    }

    /// Runs `argv` in kept session `idOrName` on its kept changes, its settings read
    /// again from the manifest it was made from, and returns its exit status (128+N for
    /// signal N). stdin, stdout and stderr are this process's. `startedSignal` gets one
    /// byte once the command's execve succeeded (`SessionSpec.startedSignal`).
    ///
    /// A session that runs already is refused (`sessionInUse`), as `docker start` of a
    /// running container does nothing: one command at a time is a session's first.
    public func start(session idOrName: String, argv: [String], terminal: Bool, startedSignal: Int32?) throws(StrataError) -> Int32 {
        let session: SessionRecord
        do { session = try existing(idOrName) } catch { throw .store(error) }
        context.releaseLease()
        var options = RunOptions(argv: argv, keep: true, name: session.name)
        options.terminal = terminal
        let probe: StoreLock?
        do { probe = try store.tryLock("session-" + session.id) } catch { throw .store(error) }
        guard let held = probe else { throw .store(.sessionInUse(idOrName)) }
        var spec: SessionSpec
        do { spec = try sessionSpec(for: session, options: options) } catch {
            held.release()
            throw error
        }
        spec.startedSignal = startedSignal
        let outcome: Result<SessionExit, StrataError>
        do { outcome = .success(try Sandbox.run(spec)) } catch { outcome = .failure(.sandbox(error)) }
        keepOnlyChanges(session, spec)
        held.release()
        return try status(of: try outcome.get())
    }
}

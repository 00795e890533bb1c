import Glibc
import StrataEnvironment
import StrataModel
import StrataSandbox
import StrataStore

/// A session as `strata sessions` lists it: its record and what it looks like now.
public struct SessionSummary: Sendable, Equatable {
    public let record: SessionRecord
    /// A process holds the session (a command, shell or exec runs in it).
    public let running: Bool
    /// Bytes of the session's changes (`Store.changeSize`).
    public let size: Int64

    public init(record: SessionRecord, running: Bool, size: Int64) {
        self.record = record; self.running = running; self.size = size
    }
}

/// The sessions of a store, for one request: starting them on a snapshot, entering kept
/// ones again, listing, removing and diffing them, and the named volumes they mount.
///
/// A value per request (it carries the request's context); the store coordinates
/// concurrent requests with its locks.
public struct Sessions: Sendable {
    public let store: Store
    public let context: RequestContext

    public init(store: Store, context: RequestContext) {
        self.store = store; self.context = context
    }

    /// Every session, newest first (as `docker ps`), with whether it runs and the size of its changes.
    public func list() throws(StrataError) -> [SessionSummary] {
        do throws(StoreError) {
            var summaries: [SessionSummary] = []
            for record in try store.listSessions().reversed() {
                let size: Int64
                do { size = try store.changeSize(record) } catch {
                    // Removed between the listing and the measurement: it is no longer a session.
                    if try store.session(named: record.id) == nil { continue }
                    throw error
                }
                summaries.append(SessionSummary(record: record, running: store.isRunning(record), size: size))
            }
            return summaries
        } catch { throw .store(error) }
    }

    /// Removes the kept session `idOrName` (a name or id) and its changes. A running
    /// session is refused (`sessionInUse`): stop what runs in it first.
    public func remove(_ idOrName: String) throws(StrataError) {
        do { try store.removeSession(idOrName) } catch { throw .store(error) }
    }

    /// What session `idOrName` changed, as `docker diff` lists it, sorted by path.
    public func diff(_ idOrName: String) throws(StrataError) -> [SessionChange] {
        do { return try store.diff(try existing(idOrName)) } catch { throw .store(error) }
    }

    /// The session named `idOrName` (its name or id), or `noSuchSession`.
    public func existing(_ idOrName: String) throws(StoreError) -> SessionRecord {
        guard let found = try store.session(named: idOrName) else { throw .noSuchSession(idOrName) }
        return found
    }

    /// Removes a session this request made; a failure is said, not thrown, since the
    /// command's own outcome is what the caller reports.
    public func discard(_ id: String) {
        do { try store.removeSession(id) } catch { context.note("could not remove session \(id): \(error)") }
    }
}

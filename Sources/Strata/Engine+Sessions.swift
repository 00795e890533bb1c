import Glibc
import StrataModel
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

extension Engine {
    /// Every session, newest first (as `docker ps`), with whether it runs and the size of its changes.
    public func sessions() throws(StrataError) -> [SessionSummary] {
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
    public func remove(session idOrName: String) throws(StrataError) {
        do { try store.removeSession(idOrName) } catch { throw .store(error) }
    }

    /// What session `idOrName` changed, as `docker diff` lists it, sorted by path.
    public func diff(session idOrName: String) throws(StrataError) -> [SessionChange] {
        do throws(StoreError) {
            guard let session = try store.session(named: idOrName) else { throw .noSuchSession(idOrName) }
            return try store.diff(session)
        } catch { throw .store(error) }
    }

    /// `seconds` since the epoch as RFC 3339 in UTC (`2026-11-29T10:00:00Z`), as the
    /// JSON listings of sessions and volumes write times.
    public static func rfc3339(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "1970-01-01T00:00:00Z" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

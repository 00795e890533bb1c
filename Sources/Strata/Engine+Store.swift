import StrataEnvironment
import StrataGC
import StrataModel
import StrataStore

/// What `strata prune` removed.
public struct PruneReport: Sendable, Equatable {
    /// Sessions removed: stopped and unnamed, by id.
    public var sessions: [String]
    /// Manifests of the images `index.json` named without a tag.
    public var images: [Digest]
    /// Then gc, which removed what they stood on (and everything else no root reaches).
    public var collection: CollectionReport
}

extension Engine {
    public var collector: Collector { Collector(store: store, context: context) }

    /// Removes everything no root reaches (`strata gc`).
    public func gc(_ options: CollectionOptions = CollectionOptions()) throws(StrataError) -> CollectionReport {
        try collector.collect(options)
    }

    /// What the store takes on disk, by kind and by root (`strata system df`).
    public func diskUsage() throws(StrataError) -> DiskUsage {
        try DiskUsageMeter(store: store).measure()
    }

    /// `strata prune`, as `docker system prune`: stopped unnamed sessions (a named one is
    /// what someone chose to keep), images without a tag, then gc. Running sessions stay.
    public func prune() throws(StrataError) -> PruneReport {
        let all: [SessionRecord]
        do { all = try store.listSessions() } catch { throw .store(error) }
        var removed: [String] = []
        for session in all where session.name == nil && !store.isRunning(session) {
            do { try store.removeSession(session.id) } catch {
                // Started (or removed) since the listing: it is not a stopped session now.
                if case .sessionInUse = error { continue }
                if case .noSuchSession = error { continue }
                throw .store(error)
            }
            removed.append(session.id)
        }
        let images = try self.images.removeUntagged()
        return PruneReport(sessions: removed, images: images, collection: try gc())
    }
}

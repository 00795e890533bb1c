import Glibc
import StrataEngineTestSupport
import StrataModel
import StrataOS
import StrataStore
import Testing
@testable import StrataGC

/// `strata system df`'s figures on a real store: each file once, shared and exclusive per root.
@Suite("Disk usage: by kind and by root")
struct DiskUsageTests {
    @Test("two environments on one layer: the layer is shared, each one's own file is exclusive, the kinds count it once")
    func sharedAndExclusive() throws {
        let two = try CollectorTests().buildTwo()
        let store = two.fixture.store
        let usage = try DiskUsageMeter(store: store).measure()
        let a = try #require(usage.roots.first { $0.root.kind == .lockfile(path: two.a.0.paths.lockfile) })
        let b = try #require(usage.roots.first { $0.root.kind == .lockfile(path: two.b.0.paths.lockfile) })
        func treeBytes(_ path: String) throws -> Int64 {
            var total: Int64 = 0
            try FileSystem.walk(path) { info in total += Int64(info.st_size); return true }
            return total
        }
        let shared = try treeBytes(store.layerPath(two.shared)) + (try treeBytes(store.blobPath(two.a.1.pinnedLayers[0].digest)))
        #expect(a.shared == b.shared)
        #expect(a.shared >= shared, "the busybox layer and blob, and the snapshot records they do not share are not in it")
        let own = try treeBytes(store.layerPath(two.a.1.pinnedLayers[1].diffID)) + (try treeBytes(store.blobPath(two.a.1.pinnedLayers[1].digest)))
        #expect(a.exclusive >= own && a.exclusive < own + 4096, "its copy layer, blob and snapshot record")
        #expect(a.layers == 2 && a.blobs == 2)
        let layers = try #require(usage.kinds.first { $0.kind == "layers" })
        #expect(layers.count == 3 && layers.active == 3 && layers.reclaimable == 0)
        #expect(layers.bytes == (try store.storedLayers().reduce(Int64(0)) { $0 + (try treeBytes(store.layerPath($1))) }))
        #expect(usage.bytes == (try treeBytes(store.root)), "the whole store, as du -sb counts it")

        unlink(two.a.0.paths.lockfile)
        let after = try DiskUsageMeter(store: store).measure()
        #expect(after.roots.count == 1)
        let reclaimable = after.kinds.filter { $0.kind == "layers" || $0.kind == "blobs" }.reduce(Int64(0)) { $0 + $1.reclaimable }
        #expect(reclaimable == own, "what gc would free of a's layers and blobs: its own, not the shared ones")
    }
}

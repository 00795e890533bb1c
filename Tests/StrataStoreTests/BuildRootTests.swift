import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataStore

@Suite("Build roots")
struct BuildRootTests {
    @Test("one record per lockfile path: a new snapshot replaces it, the same one is not rewritten")
    func recordPerPath() throws {
        try withTemporaryStore { store in
            let a = try digest("a"), b = try digest("b"), lock1 = try digest("c"), lock2 = try digest("d")
            #expect(try store.buildRoots().isEmpty)
            try store.recordBuildRoot(path: "/p/lockfiles/dev.lock.json", snapshot: a) { lock1 }
            try store.recordBuildRoot(path: "/q/lockfiles/dev.lock.json", snapshot: a) { lock1 }
            let record = store.buildRootPath("/p/lockfiles/dev.lock.json")
            var before = stat()
            #expect(stat(record, &before) == 0)
            try store.recordBuildRoot(path: "/p/lockfiles/dev.lock.json", snapshot: a) {
                Issue.record("the lockfile's digest is asked for although the record says the same")
                return lock2
            }
            var after = stat()
            #expect(stat(record, &after) == 0 && after.st_ino == before.st_ino, "an unchanged record is left as it is")
            try store.recordBuildRoot(path: "/p/lockfiles/dev.lock.json", snapshot: b) { lock2 }
            let roots = try store.buildRoots().sorted { $0.path < $1.path }
            #expect(roots == [BuildRoot(path: "/p/lockfiles/dev.lock.json", lockDigest: lock2, snapshot: b),
                              BuildRoot(path: "/q/lockfiles/dev.lock.json", lockDigest: lock1, snapshot: a)])
            try store.removeBuildRoot("/q/lockfiles/dev.lock.json")
            try store.removeBuildRoot("/never/built.lock.json")
            #expect(try store.buildRoots().map(\.path) == ["/p/lockfiles/dev.lock.json"])
            #expect(fileMode(store.root + "/roots/lockfiles").map { $0 & 0o777 } == 0o700)
        }
    }

    @Test("a relative path is refused; a damaged record is corrupt, naming it, and the next build rewrites it")
    func badInput() throws {
        try withTemporaryStore { store in
            let a = try digest("a")
            #expect(throws: StoreError.self) { try store.recordBuildRoot(path: "lockfiles/dev.lock.json", snapshot: a) { a } }
            try store.recordBuildRoot(path: "/p/dev.lock.json", snapshot: a) { a }
            let record = store.buildRootPath("/p/dev.lock.json")
            try writeFile(record, Array("path=/p/dev.lock.json\nlock=nonsense\n".utf8), mode: 0o600)
            do throws(StoreError) {
                _ = try store.buildRoots()
                Issue.record("a damaged record was read")
            } catch {
                guard case .corrupt(let path, _) = error else { Issue.record("\(error)"); return }
                #expect(path == record)
            }
            try store.recordBuildRoot(path: "/p/dev.lock.json", snapshot: a) { a }
            #expect(try store.buildRoots() == [BuildRoot(path: "/p/dev.lock.json", lockDigest: a, snapshot: a)])
        }
    }
}

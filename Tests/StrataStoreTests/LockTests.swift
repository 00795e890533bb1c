import Foundation
import Glibc
import Synchronization
import Testing
@testable import StrataStore

/// Whether lock `name` can be taken right now (it is released again at once).
func isFree(_ store: Store, _ name: String) throws(StoreError) -> Bool {
    guard let held = try store.tryLock(name) else { return false }
    held.release()
    return true
}

@Suite("Locks")
struct LockTests {
    @Test("withLock excludes holders in other Store instances")
    func mutualExclusion() throws {
        try withTemporaryStore { store in
            let root = store.root
            let inside = Atomic<Int>(0)
            let overlaps = Atomic<Int>(0)
            let entered = Atomic<Int>(0)
            onThreads(8) { _ in
                for _ in 0..<5 {
                    do {
                        try Store(root: root).withLock("counter") { () throws(StoreError) in
                            if inside.add(1, ordering: .sequentiallyConsistent).newValue != 1 {
                                overlaps.add(1, ordering: .sequentiallyConsistent)
                            }
                            usleep(500)
                            entered.add(1, ordering: .sequentiallyConsistent)
                            inside.subtract(1, ordering: .sequentiallyConsistent)
                        }
                    } catch {
                        overlaps.add(1000, ordering: .sequentiallyConsistent)
                    }
                }
            }
            #expect(entered.load(ordering: .sequentiallyConsistent) == 40)
            #expect(overlaps.load(ordering: .sequentiallyConsistent) == 0)
        }
    }

    @Test("tryLock fails while held and succeeds after release")
    func tryLock() throws {
        try withTemporaryStore { store in
            let held = try store.lock("x")
            #expect(try !isFree(store, "x"))
            #expect(try !isFree(Store(root: store.root), "x"))
            held.release()
            #expect(try isFree(store, "x"))
        }
    }

    @Test("withLock returns the body's value and rethrows its error")
    func bodyResult() throws {
        try withTemporaryStore { (store: Store) throws in
            #expect(try store.withLock("v") { () throws(StoreError) in 42 } == 42)
            #expect(throws: StoreError.noSuchSession("z")) {
                try store.withLock("v") { () throws(StoreError) in throw .noSuchSession("z") }
            }
            // The failed body released the lock.
            #expect(try isFree(store, "v"))
        }
    }

    @Test("withLock with another error type converts lock failures and keeps the body's errors")
    func otherErrorType() throws {
        struct Other: Error, Equatable { var text: String }
        try withTemporaryStore { (store: Store) throws in
            #expect(throws: Other(text: "body")) {
                try store.withLock("w", lockFailure: { Other(text: "\($0)") }) { () throws(Other) in throw Other(text: "body") }
            }
            #expect(throws: Other.self) {
                try store.withLock("a/b", lockFailure: { Other(text: "\($0)") }) { () throws(Other) in 1 }
            }
            #expect(try isFree(store, "w"))
        }
    }

    @Test("lock names must be one path component")
    func lockNames() throws {
        try withTemporaryStore { store in
            for bad in ["", ".", "..", "a/b", "../escape"] {
                #expect(throws: StoreError.self) { _ = try store.lock(bad) }
            }
        }
    }

    @Test("a process killed with SIGKILL while holding a lock releases it")
    func killedHolderReleases() throws {
        try withTemporaryStore { store in
            // flock(1) takes the same flock(2) lock on the same file that Store uses;
            // --no-fork makes the killed process the one holding it.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            holder.arguments = ["--no-fork", store.lockPath("layer-x"), "sleep", "60"]
            try holder.run()
            var heldByChild = false
            for _ in 0..<500 {
                if try !isFree(store, "layer-x") {
                    heldByChild = true
                    break
                }
                usleep(10_000)
            }
            #expect(heldByChild)
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
            var acquired = false
            for _ in 0..<200 {
                if try isFree(store, "layer-x") {
                    acquired = true
                    break
                }
                usleep(10_000)
            }
            #expect(acquired)
        }
    }

    @Test("a child process does not inherit a held lock")
    func notInherited() throws {
        try withTemporaryStore { store in
            let held = try store.lock("inherit")
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/bin/sleep")
            child.arguments = ["5"]
            try child.run()
            held.release()
            #expect(try isFree(store, "inherit"))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
    }
}

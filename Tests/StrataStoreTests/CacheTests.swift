import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataStore

@Suite("Store caches")
struct CacheTests {
    @Test("an entry reads back as written, through tmp/ into a 0700 directory")
    func roundTrip() throws {
        try withTemporaryStore { store in
            #expect(store.cached(.seccomp, "program.bpf") == nil)
            try store.storeCached(.seccomp, "program.bpf", [1, 2, 3, 4, 5, 6, 7, 8])
            #expect(store.cached(.seccomp, "program.bpf") == [1, 2, 3, 4, 5, 6, 7, 8])
            #expect(fileMode(store.root + "/cache")! & 0o7777 == 0o700)
            #expect(fileMode(store.root + "/cache/seccomp")! & 0o7777 == 0o700)
            #expect(entries(store.root + "/tmp").isEmpty)
            try store.storeCached(.seccomp, "program.bpf", [9])
            #expect(store.cached(.seccomp, "program.bpf") == [9], "a newer entry replaces the old one")
        }
    }

    @Test("a damaged entry is never used, and is removed")
    func damagedEntry() throws {
        try withTemporaryStore { store in
            try store.storeCached(.seccomp, "program.bpf", Array(repeating: 7, count: 64))
            let path = store.root + "/cache/seccomp/program.bpf"
            var bytes = try #require(readBytes(path))
            bytes[bytes.count - 1] ^= 0xff
            chmod(path, 0o600)
            try writeFile(path, bytes, mode: 0o600)
            #expect(store.cached(.seccomp, "program.bpf") == nil)
            #expect(!FileManager.default.fileExists(atPath: path))
            // An entry without the header (written by an older strata, or by anything else) is not trusted either.
            try writeFile(path, Array(repeating: 7, count: 64), mode: 0o600)
            #expect(store.cached(.seccomp, "program.bpf") == nil)
        }
    }

    @Test("file entries are published from tmp/; keys are one plain name")
    func fileEntriesAndKeys() throws {
        try withTemporaryStore { store in
            let temporary = store.temporaryPath("index")
            try writeFile(temporary, Array("Package: a\n".utf8))
            let path = try store.publishCachedFile(.debianIndexes, "abc", temporaryFile: temporary)
            #expect(store.cachedFile(.debianIndexes, "abc") == path)
            #expect(readBytes(path) == Array("Package: a\n".utf8))
            #expect(entries(store.root + "/tmp").isEmpty)
            for bad in ["", "../x", "a/b", ".hidden"] {
                #expect(throws: StoreError.self) { try store.storeCached(.inputs, bad, [1]) }
            }
            #expect(throws: StoreError.self) { try store.publishCachedFile(.debianIndexes, "x", temporaryFile: "/etc/passwd") }
        }
    }
}

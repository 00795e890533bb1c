import Foundation
import Glibc
import Testing
@testable import StrataStore

@Suite("Store layout")
struct LayoutTests {
    @Test("a new store is an OCI layout with every directory mode 0700")
    func createsLayout() throws {
        try withTemporaryStore { store in
            #expect(permissions(store.root) == 0o700)
            for directory in ["blobs", "blobs/sha256", "layers", "snapshots", "sessions", "tmp", "locks"] {
                #expect(isDirectory(store.root + "/" + directory), "\(directory)")
                #expect(permissions(store.root + "/" + directory) == 0o700, "\(directory)")
            }
            #expect(readBytes(store.root + "/oci-layout") == Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8) + [0x0a])
            #expect(readBytes(store.root + "/index.json") == Array(#"{"schemaVersion": 2, "manifests": []}"#.utf8) + [0x0a])
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("reopening keeps an index.json that was filled in")
    func reopenKeepsIndex() throws {
        try withTemporaryStore { store in
            let filled = Array(#"{"schemaVersion": 2, "manifests": [{"x": 1}]}"#.utf8)
            try writeFile(store.root + "/index.json", filled)
            let again = try Store(root: store.root)
            #expect(readBytes(again.root + "/index.json") == filled)
            #expect(entries(store.root + "/tmp").isEmpty)
        }
    }

    @Test("a missing parent is created and a relative root is made absolute")
    func parentsAndRelativeRoot() throws {
        try withTemporaryDirectory { directory in
            let nested = try Store(root: directory + "/a/b/store/")
            #expect(nested.root == directory + "/a/b/store")
            #expect(isDirectory(nested.root + "/blobs/sha256"))

            #expect(Store.absolute("rel", workingDirectory: "/w") == "/w/rel")
            #expect(Store.absolute("rel/", workingDirectory: "/") == "/rel")
            #expect(Store.absolute(".", workingDirectory: "/w") == "/w")
            #expect(Store.absolute("/abs//", workingDirectory: "/w") == "/abs")
        }
    }

    @Test("a root that is a file is an error naming it")
    func rootIsAFile() throws {
        try withTemporaryDirectory { directory in
            try writeFile(directory + "/file", [1])
            #expect(throws: StoreError.self) { try Store(root: directory + "/file") }
        }
    }

    @Test("default root follows STRATA_ROOT, euid, XDG_DATA_HOME, HOME")
    func defaultRoot() {
        #expect(Store.defaultRoot(environment: ["STRATA_ROOT": "/x", "HOME": "/h"], effectiveUserID: 1000) == "/x")
        #expect(Store.defaultRoot(environment: ["STRATA_ROOT": "/x"], effectiveUserID: 0) == "/x")
        #expect(Store.defaultRoot(environment: ["HOME": "/h", "XDG_DATA_HOME": "/d"], effectiveUserID: 0) == "/var/lib/strata")
        #expect(Store.defaultRoot(environment: ["HOME": "/h", "XDG_DATA_HOME": "/d"], effectiveUserID: 1000) == "/d/strata")
        #expect(Store.defaultRoot(environment: ["HOME": "/h", "XDG_DATA_HOME": "rel"], effectiveUserID: 1000) == "/h/.local/share/strata")
        #expect(Store.defaultRoot(environment: ["HOME": "/h"], effectiveUserID: 1000) == "/h/.local/share/strata")
        #expect(Store.defaultRoot(environment: [:]) == "/var/lib/strata")  // tests run as root
    }

    @Test("temporary paths are unique, direct children of tmp/")
    func temporaryPaths() throws {
        try withTemporaryStore { store in
            let a = store.temporaryPath("down/load")
            let b = store.temporaryPath("down/load")
            #expect(a != b)
            #expect(a.hasPrefix(store.root + "/tmp/down_load."))
            #expect(!a.dropFirst((store.root + "/tmp/").count).contains("/"))
        }
    }
}

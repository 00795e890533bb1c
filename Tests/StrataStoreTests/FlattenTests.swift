import Foundation
import CLinux
import Glibc
import StrataModel
import Testing
@testable import StrataStore

@Suite("Flattened layers")
struct FlattenTests {
    /// Publishes a layer under a made-up key whose tree `fill` writes with shell-free calls.
    func layer(_ store: Store, _ name: String, _ fill: (String) throws -> Void) throws -> Digest {
        let key = Digest.sha256(of: Array(name.utf8))
        try store.publishLayer(key: key) { (directory) throws(StoreError) -> [String] in
            do { try fill(directory) } catch { throw .io(path: directory, reason: "\(error)") }
            return []
        }
        return key
    }

    @Test("the flattened tree is what overlayfs shows: replacements, whiteouts, opaque dirs, top metadata, shared inodes")
    func overlayRules() throws {
        try withTemporaryStore { store in
            let fm = FileManager.default
            let bottom = try layer(store, "bottom") { dir in
                try fm.createDirectory(atPath: dir + "/etc/old", withIntermediateDirectories: true)
                try Data("a\n".utf8).write(to: URL(fileURLWithPath: dir + "/etc/a"))
                try Data("gone\n".utf8).write(to: URL(fileURLWithPath: dir + "/etc/gone"))
                try Data("hidden\n".utf8).write(to: URL(fileURLWithPath: dir + "/etc/old/hidden"))
                try Data("dir\n".utf8).write(to: URL(fileURLWithPath: dir + "/etc/old/kept"))
                try fm.createSymbolicLink(atPath: dir + "/link", withDestinationPath: "etc/a")
            }
            let top = try layer(store, "top") { dir in
                try fm.createDirectory(atPath: dir + "/etc/old", withIntermediateDirectories: true)
                chmod(dir + "/etc", 0o750)
                try Data("b\n".utf8).write(to: URL(fileURLWithPath: dir + "/etc/a"))
                #expect(mknod(dir + "/etc/gone", S_IFCHR | 0o000, 0) == 0)
                #expect(setxattr(dir + "/etc/old", "trusted.overlay.opaque", "y", 1, 0) == 0)
                try Data("new\n".utf8).write(to: URL(fileURLWithPath: dir + "/etc/old/kept"))
            }
            let flat = try store.publishFlattened([bottom, top])
            #expect(flat == LayerKeys.flattened([bottom, top]))
            let root = store.layerPath(flat)
            #expect(try String(contentsOfFile: root + "/etc/a", encoding: .utf8) == "b\n")
            #expect(!fm.fileExists(atPath: root + "/etc/gone"))
            #expect(!fm.fileExists(atPath: root + "/etc/old/hidden"))
            #expect(try String(contentsOfFile: root + "/etc/old/kept", encoding: .utf8) == "new\n")
            #expect(try fm.destinationOfSymbolicLink(atPath: root + "/link") == "etc/a")
            var a = stat(), b = stat()
            #expect(stat(root + "/etc", &a) == 0 && a.st_mode & 0o7777 == 0o750)
            #expect(stat(root + "/etc/a", &a) == 0 && stat(store.layerPath(top) + "/etc/a", &b) == 0)
            #expect(a.st_ino == b.st_ino, "files are hard links, not copies")
            // Asking again publishes nothing new.
            #expect(try store.publishFlattened([bottom, top]) == flat)
        }
    }
}

import CLinux
import Foundation
import Glibc
import Testing
@testable import StrataStore

/// `docker diff` from an upper dir and lower layers laid out by hand in overlayfs's
/// encoding (whiteouts are 0/0 character devices, opaque directories carry
/// `trusted.overlay.opaque=y`), and once from a real overlay mount.
@Suite("Session diff")
struct SessionDiffTests {
    /// A tree under `root` from a list: "d:path" a directory, "f:path" a file,
    /// "w:path" a whiteout, "o:path" an opaque directory, "l:path" a symlink to "x".
    static func tree(_ root: String, _ items: [String]) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for item in items {
            let kind = item.prefix(2)
            let path = root + "/" + item.dropFirst(2)
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            switch kind {
            case "d:", "o:":
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                if kind == "o:" {
                    let status = [UInt8(ascii: "y")].withUnsafeBytes { setxattr(path, "trusted.overlay.opaque", $0.baseAddress, 1, 0) }
                    guard status == 0 else { throw TestFailure("setxattr \(path): \(String(cString: strerror(errno)))") }
                }
            case "f:": try writeFile(path, Array("data".utf8))
            case "w:": guard mknod(path, S_IFCHR | 0o000, 0) == 0 else { throw TestFailure("mknod \(path)") }
            case "l:": guard symlink("x", path) == 0 else { throw TestFailure("symlink \(path)") }
            default: throw TestFailure("bad item \(item)")
            }
        }
    }

    static func diff(_ directory: String, upper: [String], lowers: [[String]]) throws -> [String] {
        try tree(directory + "/upper", upper)
        var lowerDirs: [String] = []
        for (index, items) in lowers.enumerated() {
            let lower = directory + "/lower\(index)"
            try tree(lower, items)
            lowerDirs.append(lower)
        }
        return try SessionDiff.changes(upper: directory + "/upper", lowerDirs: lowerDirs).map(\.description)
    }

    @Test("added, changed and deleted paths, with the directories above them, sorted")
    func basics() throws {
        try withTemporaryDirectory { directory in
            let changes = try Self.diff(directory, upper: [
                "f:etc/passwd", "w:etc/group", "d:new/dir", "f:new/dir/f", "l:link", "f:a-b", "w:never-there",
            ], lowers: [["f:etc/passwd", "f:etc/group", "f:etc/hosts", "d:a"]])
            #expect(changes == ["A /a-b", "C /etc", "D /etc/group", "C /etc/passwd", "A /link", "A /new", "A /new/dir", "A /new/dir/f"])
            #expect(try Self.diff(directory + "/empty", upper: [], lowers: [["f:x"]]) == [])
        }
    }

    @Test("existence below follows overlayfs: whiteouts, opaque directories and files hide lower layers")
    func lowerLookup() throws {
        try withTemporaryDirectory { directory in
            let changes = try Self.diff(directory, upper: [
                "f:etc/b",     // hidden by the top layer's whiteout: new again
                "w:etc/a",
                "d:d/x",       // below the top layer's opaque d: new
                "w:d/new",
                "w:gone",
                "f:f/in",      // the top layer made f a directory over a file
                "f:deep/er/still",
            ], lowers: [
                ["w:etc/b", "o:d", "f:d/new", "d:f", "f:f/in", "d:deep"],
                ["f:etc/a", "f:etc/b", "d:d/x", "f:d/x/y", "f:f", "d:gone/z", "f:deep/er/still"],
            ])
            #expect(changes == [
                "C /d", "D /d/new", "A /d/x", "C /deep", "C /deep/er", "C /deep/er/still", "C /etc", "D /etc/a", "A /etc/b",
                "C /f", "C /f/in", "D /gone",
            ])
        }
    }

    @Test("a replaced directory: what it held and the session did not write again is deleted, one level only")
    func opaqueUpper() throws {
        try withTemporaryDirectory { directory in
            let changes = try Self.diff(directory, upper: [
                "o:srv", "d:srv/x", "f:srv/x/y", "f:srv/fresh", "w:srv/k",
            ], lowers: [
                ["d:srv/x", "f:srv/x/y", "f:srv/x/z", "f:srv/k", "d:srv/tree/inner", "w:srv/hidden"],
                ["f:srv/hidden"],
            ])
            #expect(changes == ["C /srv", "A /srv/fresh", "D /srv/k", "D /srv/tree", "C /srv/x", "C /srv/x/y", "D /srv/x/z"])
        }
    }

    @Test("a real overlay mount's upper dir: rm -rf and mkdir again, deletions, a new file")
    func realOverlay() throws {
        try withTemporaryDirectory { directory in
            try Self.tree(directory + "/lower", ["f:etc/hosts", "f:etc/motd", "d:opt/tool/bin", "f:opt/tool/bin/run", "f:opt/tool/README"])
            for sub in ["upper", "work", "merged"] {
                try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
            }
            let options = "lowerdir=\(directory)/lower,upperdir=\(directory)/upper,workdir=\(directory)/work"
            try #require(try run("/bin/mount", ["-t", "overlay", "overlay", "-o", options, directory + "/merged"]) == 0)
            defer { umount2(directory + "/merged", Int32(MNT_DETACH)) }
            let merged = directory + "/merged"
            try FileManager.default.removeItem(atPath: merged + "/etc/motd")
            try FileManager.default.removeItem(atPath: merged + "/opt/tool")
            try FileManager.default.createDirectory(atPath: merged + "/opt/tool", withIntermediateDirectories: false)
            try writeFile(merged + "/opt/tool/README", Array("new".utf8))
            try writeFile(merged + "/added", Array("x".utf8))
            let changes = try SessionDiff.changes(upper: directory + "/upper", lowerDirs: [directory + "/lower"]).map(\.description)
            #expect(changes == ["A /added", "C /etc", "D /etc/motd", "C /opt", "C /opt/tool", "C /opt/tool/README", "D /opt/tool/bin"])
        }
    }

    @Test("change size counts files and symlinks, a hard link once, not directories")
    func changeSize() throws {
        try withTemporaryStore { store in
            let record = try store.createSession(
                snapshot: try store.publishSnapshot(diffIDs: [try store.emptyLayer()]), name: nil, environment: "e")
            #expect(try store.changeSize(record) == 0)
            try FileManager.default.createDirectory(atPath: record.upperPath + "/d/e", withIntermediateDirectories: true)
            try writeFile(record.upperPath + "/d/e/f", [UInt8](repeating: 1, count: 1000))
            #expect(link(record.upperPath + "/d/e/f", record.upperPath + "/hard") == 0)
            #expect(symlink("1234", record.upperPath + "/sym") == 0)
            #expect(try store.changeSize(record) == 1004)
        }
    }
}

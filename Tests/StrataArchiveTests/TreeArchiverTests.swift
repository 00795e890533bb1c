import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataArchive

@Suite("TreeArchiver")
struct TreeArchiverTests {
    /// files/ with a script, a nested file, a symlink, a hardlink pair, a FIFO, a socket-free
    /// tree, and xattrs (one of them the overlay's own).
    private func makeTree(in scratch: Scratch) throws -> String {
        let files = scratch.base + "/files"
        let manager = FileManager.default
        try manager.createDirectory(atPath: files + "/sub", withIntermediateDirectories: true)
        try writeFile(files + "/a.py", Data("print('a')\n".utf8))
        try writeFile(files + "/sub/b", Data("bee".utf8))
        chmod(files + "/a.py", 0o755)
        chmod(files + "/sub", 0o750)
        try manager.createSymbolicLink(atPath: files + "/link", withDestinationPath: "sub/b")
        link(files + "/sub/b", files + "/sub/b-again")
        mkfifo(files + "/pipe", 0o600)
        try run("/usr/bin/setfattr", ["-n", "user.origin", "-v", "test", files + "/a.py"])
        try run("/usr/bin/setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", files + "/sub"])
        return files
    }

    private func names(of tar: String) throws -> String {
        let out = tar + ".names"
        try run("/usr/bin/python3", ["-c", """
        import sys, tarfile
        with tarfile.open(sys.argv[1]) as t, open(sys.argv[2], "w") as o:
            for m in t.getmembers():
                o.write("%s %o %d %d %d %s %s\\n" % (m.name, m.mode, m.uid, m.gid, m.mtime, m.uname or "-", m.linkname or "-"))
        """, tar, out])
        return String(decoding: contents(out), as: UTF8.self)
    }

    @Test func sameTreeSameBytes() throws {
        let scratch = try Scratch()
        let files = try makeTree(in: scratch)
        let first = scratch.base + "/one.tar", second = scratch.base + "/two.tar"
        let digest = try TreeArchiver.archive(source: files, target: "/opt/tools", to: first)
        #expect(digest == sha256(ofFile: first))
        #expect(try TarDigest.diffID(ofArchiveAt: first) == digest)

        // Touching mtimes (and atimes) changes nothing.
        var times = [timespec(tv_sec: 12345, tv_nsec: 6), timespec(tv_sec: 12345, tv_nsec: 6)]
        utimensat(AT_FDCWD, files + "/sub/b", &times, 0)
        utimensat(AT_FDCWD, files, &times, 0)
        #expect(try TreeArchiver.archive(source: files, target: "/opt/tools", to: second) == digest)
        #expect(contents(first) == contents(second))

        chmod(files + "/sub/b", 0o600)
        let modeChanged = try TreeArchiver.archive(source: files, target: "/opt/tools", to: second)
        #expect(modeChanged != digest)
        chmod(files + "/sub/b", 0o644)
        #expect(try TreeArchiver.archive(source: files, target: "/opt/tools", to: second) == digest)
        try writeFile(files + "/a.py", Data("print('b')\n".utf8))
        chmod(files + "/a.py", 0o755)
        try run("/usr/bin/setfattr", ["-n", "user.origin", "-v", "test", files + "/a.py"])
        #expect(try TreeArchiver.archive(source: files, target: "/opt/tools", to: second) != digest)
    }

    @Test func entriesAreSortedAndAnonymous() throws {
        let scratch = try Scratch()
        let files = try makeTree(in: scratch)
        let tar = scratch.base + "/out.tar"
        _ = try TreeArchiver.archive(source: files, target: "/opt/tools", to: tar)
        let listing = try names(of: tar).split(separator: "\n").map(String.init)
        let names = listing.map { String($0.split(separator: " ")[0]) }
        #expect(names == ["opt", "opt/tools", "opt/tools/a.py", "opt/tools/link", "opt/tools/pipe",
                          "opt/tools/sub", "opt/tools/sub/b", "opt/tools/sub/b-again"])
        #expect(listing[0] == "opt 755 0 0 0 - -")
        #expect(listing.allSatisfy { $0.contains(" 0 0 0 - ") }, "uid, gid, mtime 0 and no user names: \(listing)")
        #expect(listing.contains("opt/tools/sub/b-again 644 0 0 0 - opt/tools/sub/b"))
        #expect(listing.contains("opt/tools/link 777 0 0 0 - sub/b"))
    }

    @Test func unpackingReproducesTheTree() throws {
        let scratch = try Scratch()
        let files = try makeTree(in: scratch)
        let tar = scratch.base + "/out.tar"
        let digest = try TreeArchiver.archive(source: files, target: "/opt/tools", to: tar)
        let report = try scratch.unpack(tar)
        #expect(report.diffID == digest)
        let root = scratch.destination + "/opt/tools"
        #expect(lstatOf(scratch.destination + "/opt")?.st_mode == S_IFDIR | 0o755)
        #expect(contents(root + "/a.py") == Array("print('a')\n".utf8))
        #expect(lstatOf(root + "/a.py")?.st_mode == S_IFREG | 0o755)
        #expect(lstatOf(root + "/sub")?.st_mode == S_IFDIR | 0o750)
        #expect(lstatOf(root + "/sub/b")?.st_ino == lstatOf(root + "/sub/b-again")?.st_ino)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/link") == "sub/b")
        #expect(lstatOf(root + "/pipe").map { $0.st_mode & S_IFMT } == S_IFIFO)
        #expect(xattrs(root + "/a.py")["user.origin"] == Array("test".utf8))
        #expect(xattrs(root + "/sub")["trusted.overlay.opaque"] == nil)
        #expect(lstatOf(root + "/a.py")?.st_mtim.tv_sec == 0)
    }

    @Test func singleFileAndRootTargets() throws {
        let scratch = try Scratch()
        let files = try makeTree(in: scratch)
        let one = scratch.base + "/one.tar"
        _ = try TreeArchiver.archive(source: files + "/a.py", target: "/usr/local/bin/a", to: one)
        #expect(try names(of: one).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
                == ["usr", "usr/local", "usr/local/bin", "usr/local/bin/a"])
        let atRoot = scratch.base + "/root.tar"
        _ = try TreeArchiver.archive(source: files, target: "/", to: atRoot)
        #expect(try names(of: atRoot).split(separator: "\n").first.map { String($0.split(separator: " ")[0]) } == "a.py")
    }

    @Test func missingSourceIsUnreadable() throws {
        let scratch = try Scratch()
        let missing = scratch.base + "/nope"
        #expect(throws: ArchiveError.unreadable(path: missing, reason: "No such file or directory")) {
            try TreeArchiver.archive(source: missing, target: "/x", to: scratch.base + "/out.tar")
        }
    }
}

import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataArchive

@Suite("LayerUnpacker")
struct LayerUnpackerTests {
    @Test func normalTreeRoundTrip() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("tree.tar", """
        add("etc/", DIRTYPE, mode=0o750, uid=1000, gid=1001, mtime=1111)
        add("etc/app.conf", data=b"key=value\\n", mode=0o640, uid=1000, gid=1001, mtime=2222, xattrs={"user.note": "hello"})
        add("usr/bin/tool", data=b"#!/bin/sh\\n", mode=0o4755, uid=0, gid=50, mtime=3333)
        add("usr/bin/alias", SYMTYPE, link="tool", mtime=4444, uid=7, gid=8)
        add("usr/bin/hard", LNKTYPE, link="usr/bin/tool")
        add("run/pipe", FIFOTYPE, mode=0o620, uid=3, gid=4, mtime=5555)
        add("./", DIRTYPE, mode=0o755, mtime=6666)
        """)
        let report = try scratch.unpack(tar)
        let root = scratch.destination
        #expect(report.entries == 7)
        #expect(report.warnings.isEmpty)
        #expect(report.diffID == sha256(ofFile: tar))

        let etc = try #require(lstatOf(root + "/etc"))
        #expect(etc.st_mode == S_IFDIR | 0o750)
        #expect(etc.st_uid == 1000 && etc.st_gid == 1001)
        #expect(etc.st_mtim.tv_sec == 1111)

        let conf = try #require(lstatOf(root + "/etc/app.conf"))
        #expect(conf.st_mode == S_IFREG | 0o640)
        #expect(conf.st_uid == 1000 && conf.st_gid == 1001 && conf.st_mtim.tv_sec == 2222)
        #expect(contents(root + "/etc/app.conf") == Array("key=value\n".utf8))
        #expect(xattrs(root + "/etc/app.conf")["user.note"] == Array("hello".utf8))

        let tool = try #require(lstatOf(root + "/usr/bin/tool"))
        #expect(tool.st_mode == S_IFREG | 0o4755, "setuid survives the chown")
        #expect(tool.st_gid == 50 && tool.st_mtim.tv_sec == 3333)

        let alias = try #require(lstatOf(root + "/usr/bin/alias"))
        #expect(alias.st_mode & S_IFMT == S_IFLNK)
        #expect(alias.st_uid == 7 && alias.st_gid == 8 && alias.st_mtim.tv_sec == 4444)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/usr/bin/alias") == "tool")

        let hard = try #require(lstatOf(root + "/usr/bin/hard"))
        #expect(hard.st_ino == tool.st_ino && hard.st_nlink == 2)

        let pipe = try #require(lstatOf(root + "/run/pipe"))
        #expect(pipe.st_mode == S_IFIFO | 0o620 && pipe.st_uid == 3 && pipe.st_mtim.tv_sec == 5555)

        let top = try #require(lstatOf(root))
        #expect(top.st_mode == S_IFDIR | 0o755 && top.st_mtim.tv_sec == 6666)
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func duplicatesLastOneWins() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("dup.tar", """
        add("a", data=b"first")
        add("a", data=b"second", mode=0o600)
        add("d/", DIRTYPE, mode=0o700)
        add("d/inner", data=b"x")
        add("d/", DIRTYPE, mode=0o711)
        add("f/", DIRTYPE)
        add("f/gone", data=b"x")
        add("f", SYMTYPE, link="elsewhere")
        """)
        _ = try scratch.unpack(tar)
        let root = scratch.destination
        #expect(contents(root + "/a") == Array("second".utf8))
        #expect(lstatOf(root + "/a")?.st_mode == S_IFREG | 0o600)
        #expect(lstatOf(root + "/d")?.st_mode == S_IFDIR | 0o711, "a directory over a directory merges")
        #expect(exists(root + "/d/inner"))
        #expect(lstatOf(root + "/f").map { $0.st_mode & S_IFMT } == S_IFLNK)
    }

    @Test(arguments: [
        ("gzip", ["-k", "-n"], ".gz"), ("xz", ["-k"], ".xz"), ("zstd", ["-q", "-k"], ".zst"),
        ("bzip2", ["-k"], ".bz2"), ("lz4", ["-q", "-k", "-m"], ".lz4"),
    ])
    func compressedLayersHaveTheUncompressedDiffID(tool: String, flags: [String], suffix: String) throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("layer.tar", """
        add("a/b/c", data=b"payload" * 1000)
        add("a/link", SYMTYPE, link="b/c")
        """)
        try run("/usr/bin/" + tool, flags + [tar])
        let compressed = tar + suffix
        let expected = sha256(ofFile: tar)
        #expect(try TarDigest.diffID(ofArchiveAt: tar) == expected)
        #expect(try TarDigest.diffID(ofArchiveAt: compressed) == expected)
        let report = try scratch.unpack(compressed)
        #expect(report.diffID == expected)
        #expect(contents(scratch.destination + "/a/b/c").count == 7000)
    }

    @Test func whiteoutsBecomeOverlayWhiteouts() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("wh.tar", """
        add("a/", DIRTYPE)
        add("a/.wh.b")
        add("c/", DIRTYPE)
        add("c/.wh..wh..opq")
        add("c/keep", data=b"k")
        add("d/x", data=b"mine")
        add("d/.wh.x")
        add(".wh..wh.plnk")
        add("e/.wh.f")
        """)
        let report = try scratch.unpack(tar)
        let root = scratch.destination
        let whiteout = try #require(lstatOf(root + "/a/b"))
        #expect(whiteout.st_mode & S_IFMT == S_IFCHR)
        #expect(whiteout.st_rdev == 0)
        #expect(!exists(root + "/a/.wh.b"))
        #expect(xattrs(root + "/c")["trusted.overlay.opaque"] == Array("y".utf8))
        #expect(!exists(root + "/c/.wh..wh..opq"))
        #expect(exists(root + "/c/keep"))
        #expect(contents(root + "/d/x") == Array("mine".utf8), "a whiteout never deletes what its own layer wrote")
        #expect(!exists(root + "/.wh..wh.plnk"))
        #expect(report.warnings.contains { $0.contains(".wh..wh.plnk") })
        #expect(lstatOf(root + "/e/f").map { $0.st_mode & S_IFMT } == S_IFCHR)
    }

    // MARK: - hostile layers

    @Test(arguments: ["../x", "a/../../x", "../../../tmp/strata-escape-probe"])
    func namesClimbingAboveTheRootAreRefused(name: String) throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("evil.tar", "add(\"ok\")\nadd(\"\(name)\", data=b\"evil\")")
        let error = try #require(scratch.unpackError(tar))
        #expect(error == .unsafeEntry(entry: name, reason: "the name climbs above the layer root with '..'"))
        #expect(try scratch.escaped().isEmpty)
        #expect(!exists("/tmp/strata-escape-probe"))
    }

    @Test func absoluteNamesLandInside() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("abs.tar", "add(\"/abs/path\", data=b\"in\")")
        _ = try scratch.unpack(tar)
        #expect(contents(scratch.destination + "/abs/path") == Array("in".utf8))
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func writingThroughASymlinkToTheHostRootIsRefused() throws {
        let scratch = try Scratch()
        let probe = "strata-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tar = try scratch.tar("evil.tar", """
        add("l", SYMTYPE, link="/")
        add("l/\(probe)", data=b"evil")
        """)
        let error = try #require(scratch.unpackError(tar))
        #expect(error.entry == "l/\(probe)")
        #expect(!exists("/" + probe))
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func writingThroughASymlinkToTheParentIsRefused() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("evil.tar", """
        add("up", SYMTYPE, link="..")
        add("up/escaped", data=b"evil")
        """)
        let error = try #require(scratch.unpackError(tar))
        #expect(error == .unsafeEntry(entry: "up/escaped", reason: "'up' is a symbolic link"))
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func symlinkChainEndingOutsideIsRefused() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("evil.tar", """
        add("one", SYMTYPE, link="two")
        add("two", SYMTYPE, link="\(scratch.sandbox)")
        add("one/escaped", data=b"evil")
        """)
        let error = try #require(scratch.unpackError(tar))
        #expect(error.entry == "one/escaped")
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func hardlinkOutsideTheLayerIsRefused() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("evil.tar", "add(\"stolen\", LNKTYPE, link=\"../../etc/passwd\")")
        let error = try #require(scratch.unpackError(tar))
        #expect(error.entry == "stolen")
        #expect(!exists(scratch.destination + "/stolen"))
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func hardlinkThroughASymlinkIsRefused() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("evil.tar", """
        add("etc", SYMTYPE, link="/etc")
        add("stolen", LNKTYPE, link="etc/passwd")
        """)
        let error = try #require(scratch.unpackError(tar))
        #expect(error == .unsafeEntry(entry: "stolen", reason: "hardlink target 'etc/passwd': 'etc' is a symbolic link"))
        #expect(!exists(scratch.destination + "/stolen"))
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func hardlinkToANonFileIsRefused() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("evil.tar", """
        add("dir/", DIRTYPE)
        add("l", SYMTYPE, link="/etc/passwd")
        add("h1", LNKTYPE, link="dir")
        """)
        #expect(scratch.unpackError(tar)?.entry == "h1")
        let tar2 = try scratch.tar("evil2.tar", """
        add("l", SYMTYPE, link="/etc/passwd")
        add("h2", LNKTYPE, link="l")
        """)
        #expect(scratch.unpackError(tar2)?.entry == "h2")
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func deviceNodesAreDroppedWithAWarning() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("dev.tar", """
        add("dev/sda", BLKTYPE, major=8, minor=0)
        add("dev/null", CHRTYPE, major=1, minor=3)
        add("fake-whiteout", CHRTYPE, major=0, minor=0)
        add("fine", data=b"ok")
        """)
        let report = try scratch.unpack(tar)
        for name in ["dev/sda", "dev/null", "fake-whiteout"] {
            #expect(!exists(scratch.destination + "/" + name))
            #expect(report.warnings.contains { $0.hasPrefix(name + ":") }, "a warning names \(name)")
        }
        #expect(exists(scratch.destination + "/fine"))
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func overlayXattrsInTheInputAreDropped() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("xattr.tar", """
        add("o/", DIRTYPE, xattrs={"trusted.overlay.opaque": "y", "user.keep": "1"})
        add("f", xattrs={"user.overlay.redirect": "/x", "trusted.other": "z"})
        """)
        let report = try scratch.unpack(tar)
        let dir = xattrs(scratch.destination + "/o")
        #expect(dir["trusted.overlay.opaque"] == nil)
        #expect(dir["user.keep"] == Array("1".utf8))
        #expect(xattrs(scratch.destination + "/f").isEmpty)
        #expect(report.warnings.contains { $0.hasPrefix("o/:") && $0.contains("trusted.overlay.opaque") })
        #expect(report.warnings.contains { $0.hasPrefix("f:") && $0.contains("user.overlay.redirect") })
    }

    @Test func entriesNamingTheRootNeverReplaceIt() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("root.tar", """
        add(".", SYMTYPE, link="/etc")
        add("/", data=b"x")
        add("", LNKTYPE, link="x")
        add("inside", data=b"ok")
        """)
        _ = try? scratch.unpack(tar)
        let root = try #require(lstatOf(scratch.destination))
        #expect(root.st_mode & S_IFMT == S_IFDIR)
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func limitsAreEnforced() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("big.tar", """
        add("a", data=b"x" * 100000)
        add("b")
        add("c", xattrs={"user.big": "v" * 5000})
        """)
        var limits = UnpackLimits()
        limits.maxUncompressedBytes = 50000
        #expect(throws: ArchiveError.self) { try scratch.unpack(tar, limits: limits) }
        do { _ = try scratch.unpack(tar, limits: limits) } catch {
            guard case .limitExceeded = error else { Issue.record("got \(error)"); return }
        }
        limits = UnpackLimits()
        limits.maxEntries = 2
        #expect(throws: ArchiveError.limitExceeded(entry: "c", limit: "more than 2 entries")) {
            try Scratch().unpack(tar, limits: limits)
        }
        limits = UnpackLimits()
        limits.maxXattrBytes = 1000
        #expect(throws: ArchiveError.limitExceeded(entry: "c", limit: "xattrs larger than 1000 bytes")) {
            try Scratch().unpack(tar, limits: limits)
        }
    }

    // MARK: - damaged input

    @Test func truncatedGzipIsCorrupt() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("t.tar", "add(\"data\", data=bytes(range(256)) * 4000)")
        try run("/usr/bin/gzip", ["-n", tar])
        let bytes = contents(tar + ".gz")
        let cut = scratch.base + "/cut.tar.gz"
        try writeFile(cut, Data(bytes[0..<(bytes.count / 2)]))
        #expect(scratch.unpackError(cut)?.isCorrupt == true)
        #expect(throws: ArchiveError.self) { try TarDigest.diffID(ofArchiveAt: cut) }
    }

    @Test func trailingGarbageIsCorrupt() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("t.tar", "add(\"data\", data=b\"hello\")")
        let plainGarbage = scratch.base + "/garbage.tar"
        try writeFile(plainGarbage, Data(contents(tar) + Array("GARBAGE".utf8)))
        #expect(scratch.unpackError(plainGarbage)?.isCorrupt == true)

        try run("/usr/bin/gzip", ["-k", "-n", tar])
        let gzGarbage = scratch.base + "/garbage.tar.gz"
        try writeFile(gzGarbage, Data(contents(tar + ".gz") + Array("GARBAGE".utf8)))
        #expect(try Scratch().unpackError(gzGarbage)?.isCorrupt == true)
        #expect(throws: ArchiveError.self) { try TarDigest.diffID(ofArchiveAt: gzGarbage) }
        // The record padding a tar writer adds is zeros, not garbage.
        #expect(try Scratch().unpack(tar).diffID == sha256(ofFile: tar))
    }

    @Test func notATarIsCorrupt() throws {
        let scratch = try Scratch()
        let zip = scratch.base + "/x.tar"
        try writeFile(zip, Data(Array("PK\u{3}\u{4}this is not a tar archive at all".utf8) + [UInt8](repeating: 0x41, count: 2000)))
        #expect(scratch.unpackError(zip)?.isCorrupt == true)
        #expect(scratch.unpackError(scratch.base + "/missing.tar") == .unreadable(path: scratch.base + "/missing.tar", reason: "No such file or directory"))
    }
}

@Suite("LayerUnpacker names")
struct LayerUnpackerNameTests {
    @Test func nonASCIINamesKeepTheirBytes() throws {
        let scratch = try Scratch()
        let long = String(repeating: "d", count: 150) + "/" + String(repeating: "f", count: 150)
        let tar = try scratch.tar("utf8.tar", """
        add("caf\\u00e9/na\\u00efve", data=b"x")
        add("\(long)", data=b"long")
        """)
        let report = try scratch.unpack(tar)
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        #expect(contents(scratch.destination + "/caf\u{e9}/na\u{ef}ve") == Array("x".utf8))
        #expect(contents(scratch.destination + "/" + long) == Array("long".utf8))
    }
}

import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataArchive

/// `UnpackOptions`: the merged-/usr rewrite, recorded entry names, implicit directories and
/// whiteouts left untranslated; every safety rule still holds for rewritten names.
@Suite("LayerUnpacker options")
struct UnpackOptionsTests {
    static let debLike = UnpackOptions(mergedUsr: true, recordsEntryNames: true, implicitDirectoryMtime: 0,
                                       translatesWhiteouts: false)

    func unpack(_ scratch: Scratch, _ tar: String, _ options: UnpackOptions) throws(ArchiveError) -> UnpackReport {
        try LayerUnpacker(options: options).unpack(archiveAt: tar, into: scratch.destination)
    }

    @Test func mergedUsrMovesTopLevelDirectories() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("usr.tar", """
        add("./", DIRTYPE, mode=0o755, mtime=100)
        add("./bin/", DIRTYPE, mode=0o755, mtime=200)
        add("./bin/bash", data=b"#!bash", mode=0o755, mtime=300)
        add("./bin/rbash", LNKTYPE, link="./bin/bash")
        add("./bin/sh", SYMTYPE, link="/bin/bash")
        add("./lib/", DIRTYPE, mode=0o755, mtime=400)
        add("./lib/x86_64-linux-gnu/libc.so.6", data=b"elf")
        add("./lib64", SYMTYPE, link="usr/lib64")
        add("./sbin", data=b"not a directory")
        add("./usr/", DIRTYPE, mode=0o755, mtime=500)
        add("./usr/bin/", DIRTYPE, mode=0o755, mtime=600)
        add("./usr/bin/env", data=b"env")
        add("./usr/binary", data=b"not merged")
        add("./library/x", data=b"not merged either")
        add("./etc/bin/x", data=b"only the top level moves")
        """)
        let report = try unpack(scratch, tar, Self.debLike)
        let root = scratch.destination
        #expect(report.entries == 15)
        #expect(report.diffID == sha256(ofFile: tar), "the diff id is the raw stream's")
        #expect(report.entryNames.map { String(decoding: $0, as: UTF8.self) } == [
            "./", "./bin/", "./bin/bash", "./bin/rbash", "./bin/sh", "./lib/", "./lib/x86_64-linux-gnu/libc.so.6",
            "./lib64", "./sbin", "./usr/", "./usr/bin/", "./usr/bin/env", "./usr/binary", "./library/x", "./etc/bin/x",
        ])
        for name in ["bin", "sbin", "lib", "lib64"] { #expect(!exists(root + "/" + name), "\(name)") }
        #expect(contents(root + "/usr/bin/bash") == Array("#!bash".utf8))
        let bash = try #require(lstatOf(root + "/usr/bin/bash"))
        let rbash = try #require(lstatOf(root + "/usr/bin/rbash"))
        #expect(rbash.st_ino == bash.st_ino, "the hardlink target is rewritten too")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/usr/bin/sh") == "/bin/bash",
                "symlink targets stay as written")
        #expect(contents(root + "/usr/lib/x86_64-linux-gnu/libc.so.6") == Array("elf".utf8))
        #expect(contents(root + "/usr/bin/env") == Array("env".utf8))
        #expect(contents(root + "/usr/binary") == Array("not merged".utf8))
        #expect(contents(root + "/library/x") == Array("not merged either".utf8))
        #expect(contents(root + "/etc/bin/x") == Array("only the top level moves".utf8))
        // `./bin/` declared usr/bin first; `./usr/bin/` came later and wins (last entry wins).
        #expect(lstatOf(root + "/usr/bin")?.st_mtim.tv_sec == 600)
        #expect(lstatOf(root + "/usr/lib")?.st_mtim.tv_sec == 400)
        #expect(lstatOf(root + "/usr")?.st_mtim.tv_sec == 500)
        #expect(report.warnings.count == 2)
        #expect(report.warnings.contains { $0.hasPrefix("./lib64: ignored") })
        #expect(report.warnings.contains { $0.hasPrefix("./sbin: ignored") })
        #expect(try scratch.escaped().isEmpty)
    }

    @Test func defaultOptionsChangeNothing() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("plain.tar", """
        add("bin/tool", data=b"x")
        add("a/.wh.b")
        """)
        let report = try scratch.unpack(tar)
        #expect(report.entryNames.isEmpty)
        #expect(exists(scratch.destination + "/bin/tool"))
        #expect(!exists(scratch.destination + "/usr"))
        #expect(lstatOf(scratch.destination + "/a/b").map { $0.st_mode & S_IFMT } == S_IFCHR)
    }

    @Test func implicitDirectoriesAreNormalized() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("implicit.tar", """
        add("etc/deep/file", data=b"x", mtime=700)
        add("var/", DIRTYPE, mode=0o750, mtime=800)
        add("var/lib/x", data=b"y")
        add("bin/tool", data=b"z")
        """)
        _ = try unpack(scratch, tar, Self.debLike)
        let root = scratch.destination
        for path in ["", "/etc", "/etc/deep", "/var/lib", "/usr", "/usr/bin"] {
            let info = try #require(lstatOf(root + path), "\(path)")
            #expect(info.st_mode == S_IFDIR | 0o755, "\(path)")
            #expect(info.st_uid == 0 && info.st_gid == 0, "\(path)")
            #expect(info.st_mtim.tv_sec == 0 && info.st_mtim.tv_nsec == 0, "\(path)")
        }
        let declared = try #require(lstatOf(root + "/var"))
        #expect(declared.st_mode == S_IFDIR | 0o750 && declared.st_mtim.tv_sec == 800, "declared directories keep their own")
        #expect(lstatOf(root + "/etc/deep/file")?.st_mtim.tv_sec == 700)
        #expect(contents(root + "/usr/bin/tool") == Array("z".utf8))
    }

    @Test func whiteoutsCanBeLeftUntranslated() throws {
        let scratch = try Scratch()
        let tar = try scratch.tar("wh.tar", """
        add("a/", DIRTYPE)
        add("a/.wh.b")
        add("c/.wh..wh..opq")
        """)
        let report = try unpack(scratch, tar, UnpackOptions(translatesWhiteouts: false))
        #expect(!exists(scratch.destination + "/a/b"))
        #expect(!exists(scratch.destination + "/a/.wh.b"))
        #expect(xattrs(scratch.destination + "/c")["trusted.overlay.opaque"] == nil)
        #expect(report.warnings.count == 2)
    }

    @Test func rewrittenNamesKeepTheSafetyRules() throws {
        let scratch = try Scratch()
        let climbing = try scratch.tar("climb.tar", """
        add("bin/../../escape", data=b"x")
        """)
        #expect(throws: ArchiveError.unsafeEntry(entry: "bin/../../escape", reason: "the name climbs above the layer root with '..'")) {
            _ = try unpack(scratch, climbing, Self.debLike)
        }
        let outside = try Scratch()
        let hardlink = try outside.tar("hard.tar", """
        add("usr/", DIRTYPE)
        add("bin/passwd", LNKTYPE, link="bin/../../../etc/passwd")
        """)
        let error = try #require(throws: ArchiveError.self) { _ = try unpack(outside, hardlink, Self.debLike) }
        #expect(error.entry == "bin/passwd")
        // A symlink planted at usr/bin may not redirect the rewritten ./bin/ entries.
        let planted = try Scratch()
        let through = try planted.tar("through.tar", """
        add("usr/", DIRTYPE)
        add("usr/bin", SYMTYPE, link="/tmp")
        add("bin/evil", data=b"x")
        """)
        let refused = try #require(throws: ArchiveError.self) { _ = try unpack(planted, through, Self.debLike) }
        #expect(refused.entry == "bin/evil")
        #expect(try planted.escaped().isEmpty)
    }
}

import Foundation
import Glibc
import StrataModel
import Testing
@testable import StrataArchive

/// A session's upper dir as an OCI layer (what `strata commit` will write): overlay
/// whiteouts and opaque directories become `.wh.` entries, owners and mtimes stay
/// (clamped to SOURCE_DATE_EPOCH), the overlay's xattrs go, device nodes and hardlinks stay.
@Suite("Session change archives")
struct SessionChangeArchiveTests {
    static let epoch: Int64 = 1_700_000_000

    /// An upper dir as overlayfs leaves it: a changed file with a hardlink, a deleted
    /// file (0/0 char device), an opaque directory, a device node, xattrs.
    private func makeUpper(in scratch: Scratch) throws -> String {
        let upper = scratch.base + "/upper"
        try FileManager.default.createDirectory(atPath: upper + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: upper + "/opaque", withIntermediateDirectories: true)
        try writeFile(upper + "/etc/app.conf", Data("new\n".utf8))
        link(upper + "/etc/app.conf", upper + "/etc/app.conf.link")
        try writeFile(upper + "/opaque/only", Data("x".utf8))
        chown(upper + "/etc/app.conf", 1000, 1001)
        #expect(mknod(upper + "/etc/gone", S_IFCHR | 0o000, 0) == 0)
        #expect(mknod(upper + "/blk", S_IFBLK | 0o600, makedev(8, 1)) == 0)
        try run("/usr/bin/setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", upper + "/opaque"])
        try run("/usr/bin/setfattr", ["-n", "trusted.overlay.origin", "-v", "zzz", upper + "/etc"])
        try run("/usr/bin/setfattr", ["-n", "user.note", "-v", "kept", upper + "/etc/app.conf"])
        try run("/usr/bin/setfattr", ["-n", "trusted.mine", "-v", "kept", upper + "/opaque/only"])
        // One mtime after the epoch (clamped), one before (kept).
        var future = [timespec(tv_sec: Int(Self.epoch) + 5000, tv_nsec: 7), timespec(tv_sec: Int(Self.epoch) + 5000, tv_nsec: 7)]
        utimensat(AT_FDCWD, upper + "/etc/app.conf", &future, AT_SYMLINK_NOFOLLOW)
        var past = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, upper + "/opaque/only", &past, AT_SYMLINK_NOFOLLOW)
        return upper
    }

    private func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
        dev_t((UInt64(major & 0xfff) << 8) | UInt64(minor & 0xff) | (UInt64(minor & ~0xff) << 12) | (UInt64(major & ~0xfff) << 32))
    }

    /// One line per entry: name type mode uid gid mtime link dev xattrs.
    private func listing(of tar: String) throws -> [String] {
        let out = tar + ".list"
        try run("/usr/bin/python3", ["-c", """
        import sys, tarfile
        with tarfile.open(sys.argv[1]) as t, open(sys.argv[2], "w") as o:
            assert t.pax_headers is not None
            for m in t.getmembers():
                xattrs = ",".join(sorted(k[len("SCHILY.xattr."):] for k in m.pax_headers if k.startswith("SCHILY.xattr.")))
                o.write("%s %s %o %d %d %d %s %d:%d %s\\n" % (m.name, m.type.decode(), m.mode, m.uid, m.gid, int(m.mtime),
                        m.linkname or "-", m.devmajor, m.devminor, xattrs or "-"))
        """, tar, out])
        return String(decoding: contents(out), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func upperDirBecomesAnOCILayer() throws {
        let scratch = try Scratch()
        let upper = try makeUpper(in: scratch)
        let tar = scratch.base + "/layer.tar"
        let digest = try TreeArchiver.archive(source: upper, target: "/", to: tar, options: .sessionChange(epoch: Self.epoch))
        let entries = try listing(of: tar)
        let names = entries.map { String($0.split(separator: " ")[0]) }
        #expect(names == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        func entry(_ name: String) -> [Substring]? {
            entries.first { $0.hasPrefix(name + " ") }?.split(separator: " ")
        }
        // The deleted file is a whiteout, not a device; the opaque dir carries its marker.
        #expect(entry("etc/.wh.gone")?[1] == "0")
        #expect(entry("etc/.wh.gone")?[2] == "0")
        #expect(entry("etc/gone") == nil)
        #expect(entry("opaque/.wh..wh..opq")?[1] == "0")
        // Owners kept, mtimes clamped to the epoch or kept when older.
        #expect(entry("etc/app.conf")?[3] == "1000")
        #expect(entry("etc/app.conf")?[4] == "1001")
        #expect(entry("etc/app.conf")?[5] == Substring(String(Self.epoch)))
        #expect(entry("opaque/only")?[5] == "1000000")
        // The second name of a file is a hardlink to the first.
        #expect(entry("etc/app.conf.link")?[1] == "1")
        #expect(entry("etc/app.conf.link")?[6] == "etc/app.conf")
        // A session's own device nodes stay.
        #expect(entry("blk")?[1] == "4")
        #expect(entry("blk")?[7] == "8:1")
        // The overlay's xattrs go; everyone else's stay (trusted.* too, unlike a copied host tree).
        #expect(entry("etc")?[8] == "-")
        #expect(entry("opaque")?[8] == "-")
        #expect(entry("etc/app.conf")?[8] == "user.note")
        #expect(entry("opaque/only")?[8] == "trusted.mine")

        // The same change gives the same bytes.
        let again = scratch.base + "/again.tar"
        #expect(try TreeArchiver.archive(source: upper, target: "/", to: again, options: .sessionChange(epoch: Self.epoch)) == digest)
    }

    @Test func renamedDirectoriesAreRefused() throws {
        let scratch = try Scratch()
        let upper = try makeUpper(in: scratch)
        try run("/usr/bin/setfattr", ["-n", "trusted.overlay.redirect", "-v", "/old", upper + "/opaque"])
        #expect(throws: ArchiveError.self) {
            try TreeArchiver.archive(source: upper, target: "/", to: scratch.base + "/x.tar", options: .sessionChange(epoch: nil))
        }
    }

    @Test func copiesStillSkipDevicesAndOwners() throws {
        let scratch = try Scratch()
        let upper = try makeUpper(in: scratch)
        let tar = scratch.base + "/copy.tar"
        _ = try TreeArchiver.archive(source: upper, target: "/", to: tar)
        let entries = try listing(of: tar)
        #expect(!entries.contains { $0.hasPrefix("blk ") || $0.hasPrefix("etc/gone ") || $0.contains(".wh.") })
        #expect(entries.allSatisfy { $0.split(separator: " ")[3] == "0" && $0.split(separator: " ")[5] == "0" })
    }
}

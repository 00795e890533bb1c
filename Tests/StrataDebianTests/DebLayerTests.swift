import Foundation
import Glibc
import Testing
import StrataArchive
@testable import StrataDebian

/// `DebLayer` against `.deb`s built with dpkg-deb, and against what dpkg itself writes when it
/// unpacks the same `.deb` into a scratch root (`dpkg --root DIR --unpack`).
@Suite struct DebLayerTests {
    static let shell = DebPackageTests.shell
    static let quote = DebPackageTests.quote

    /// A file tree for `dpkg-deb --build`: `files` (path, content, mode), `hardlinks` and
    /// `symlinks` (path, target), `directories`, and the control tarball's files.
    struct Spec {
        var control: String
        var files: [(String, String, Int)] = []
        var directories: [String] = []
        var hardlinks: [(String, String)] = []
        var symlinks: [(String, String)] = []
        var controlFiles: [(String, String, Int)] = []
        /// Writes DEBIAN/md5sums with md5sum(1) over `files` and `hardlinks`.
        var md5sums = false
        /// Builds with `--nocheck`: a control file or conffiles list dpkg-deb would refuse.
        var nocheck = false
    }

    /// Builds the `.deb` `name` in `dir` and returns its path.
    static func build(_ spec: Spec, name: String, in dir: String) throws -> String {
        let root = "\(dir)/\(name)-root"
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(root)/DEBIAN", withIntermediateDirectories: true)
        for directory in spec.directories { try fm.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true) }
        for (path, content, mode) in spec.files {
            try fm.createDirectory(atPath: "\(root)/\((path as NSString).deletingLastPathComponent)", withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: "\(root)/\(path)"))
            chmod("\(root)/\(path)", mode_t(mode))
        }
        for (path, target) in spec.hardlinks { link("\(root)/\(target)", "\(root)/\(path)") }
        for (path, target) in spec.symlinks { symlink(target, "\(root)/\(path)") }
        try Data(spec.control.utf8).write(to: URL(fileURLWithPath: "\(root)/DEBIAN/control"))
        for (file, content, mode) in spec.controlFiles {
            try Data(content.utf8).write(to: URL(fileURLWithPath: "\(root)/DEBIAN/\(file)"))
            chmod("\(root)/DEBIAN/\(file)", mode_t(mode))
        }
        if spec.md5sums {
            let paths = (spec.files.map(\.0) + spec.hardlinks.map(\.0)).sorted().map(quote).joined(separator: " ")
            _ = try shell("cd \(quote(root)) && md5sum \(paths) > DEBIAN/md5sums")
        }
        let deb = "\(dir)/\(name).deb"
        _ = try shell("dpkg-deb --root-owner-group \(spec.nocheck ? "--nocheck " : "")--build \(quote(root)) \(quote(deb)) >/dev/null")
        return deb
    }

    static let demoControl = """
        Package: demo
        Version: 1:2.0-1
        Architecture: amd64
        Maintainer: Strata Tests <tests@strata.invalid>
        Installed-Size: 12
        Depends: libc6(>=2.36) ,libdemo1 |  libdemo-alt
        Section: utils
        Priority: optional
        Homepage: https://strata.invalid/demo
        Description: a demonstration package
         It has files under /bin, /sbin and /lib that merged /usr moves.
         .
         And a conffile.

        """

    static func demo(in dir: String) throws -> String {
        try build(Spec(
            control: demoControl,
            files: [("bin/demo", "#!/bin/sh\necho demo\n", 0o755), ("sbin/demod", "daemon\n", 0o755),
                    ("lib/x86_64-linux-gnu/demo/plugin.so", "plugin\n", 0o644), ("etc/demo.conf", "setting = 1\n", 0o644),
                    ("usr/share/doc/demo/copyright", "free\n", 0o644)],
            directories: ["etc/demo.d"],
            hardlinks: [("bin/demo-hard", "bin/demo")],
            symlinks: [("bin/demo-link", "demo")],
            controlFiles: [("preinst", "#!/bin/sh\nexit 0\n", 0o755), ("postinst", "#!/bin/sh\nset -e\nexit 0\n", 0o755),
                           ("conffiles", "/etc/demo.conf\n", 0o644), ("triggers", "interest-noawait /usr/share/doc\n", 0o644)],
            md5sums: true), name: "demo", in: dir)
    }

    static func libdemo(in dir: String) throws -> String {
        try build(Spec(
            control: """
                Package: libdemo1
                Source: demo (2.0-1)
                Version: 2.0-1+b1
                Architecture: amd64
                Multi-Arch: same
                Maintainer: Strata Tests <tests@strata.invalid>
                Description: the demo library

                """,
            files: [("lib/x86_64-linux-gnu/libdemo.so.1", "elf\n", 0o644), ("usr/lib/x86_64-linux-gnu/libdemo-extra.so.1", "more\n", 0o644)],
            symlinks: [("lib/x86_64-linux-gnu/libdemo.so", "libdemo.so.1")],
            controlFiles: [("shlibs", "libdemo 1 libdemo1\n", 0o644)]), name: "libdemo1", in: dir)
    }

    static func read(_ path: String) -> [UInt8] { (FileManager.default.contents(atPath: path)).map { Array($0) } ?? [] }

    static func stat(_ path: String) -> Glibc.stat? {
        var info = Glibc.stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    /// What dpkg writes for `deb`: its admin directory after `dpkg --root ROOT --unpack`.
    static func dpkgReference(_ deb: String, in dir: String) throws -> String {
        let root = "\(dir)/dpkg-root-\(UUID().uuidString)"
        let admin = "\(root)/var/lib/dpkg"
        for sub in ["info", "updates", "triggers"] {
            try FileManager.default.createDirectory(atPath: "\(admin)/\(sub)", withIntermediateDirectories: true)
        }
        for file in ["status", "available"] { _ = FileManager.default.createFile(atPath: "\(admin)/\(file)", contents: Data()) }
        // The test packages' preinst scripts only `exit 0`: run them without a chroot.
        _ = try shell("dpkg --root=\(quote(root)) --force-script-chrootless --force-depends --unpack \(quote(deb)) >/dev/null 2>&1")
        return admin
    }

    // MARK: - the tree and the database files

    @Test func unpacksTheDemoPackage() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.demo(in: dir)
        let layer = "\(dir)/layer"
        try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
        let report = try DebLayer.unpack(deb: deb, into: layer)

        #expect(report.package == "demo")
        #expect(report.version == "1:2.0-1")
        #expect(report.architecture == "amd64")
        #expect(report.multiArch == nil)
        #expect(report.control["Homepage"] == "https://strata.invalid/demo")
        #expect(report.warnings.isEmpty)
        #expect(report.infoFiles == ["list", "conffiles", "md5sums", "postinst", "preinst", "triggers"]
            .map { "var/lib/dpkg/info/demo.\($0)" })

        // Merged /usr: the package's /bin, /sbin and /lib live under usr/.
        for name in ["bin", "sbin", "lib"] { #expect(Self.stat("\(layer)/\(name)") == nil, "\(name)") }
        #expect(Self.read("\(layer)/usr/bin/demo") == Array("#!/bin/sh\necho demo\n".utf8))
        let demo = try #require(Self.stat("\(layer)/usr/bin/demo"))
        #expect(demo.st_mode == S_IFREG | 0o755 && demo.st_uid == 0 && demo.st_gid == 0)
        #expect(Self.stat("\(layer)/usr/bin/demo-hard")?.st_ino == demo.st_ino)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(layer)/usr/bin/demo-link") == "demo")
        #expect(Self.read("\(layer)/usr/sbin/demod") == Array("daemon\n".utf8))
        #expect(Self.read("\(layer)/usr/lib/x86_64-linux-gnu/demo/plugin.so") == Array("plugin\n".utf8))
        #expect(Self.read("\(layer)/etc/demo.conf") == Array("setting = 1\n".utf8))
        #expect(Self.stat("\(layer)/etc/demo.d").map { $0.st_mode & S_IFMT } == S_IFDIR)

        // The database: the file list exactly as dpkg writes it (original paths, archive order).
        let info = "\(layer)/var/lib/dpkg/info"
        #expect(String(decoding: Self.read("\(info)/demo.list"), as: UTF8.self) == """
            /.
            /bin
            /bin/demo
            /bin/demo-hard
            /etc
            /etc/demo.conf
            /etc/demo.d
            /lib
            /lib/x86_64-linux-gnu
            /lib/x86_64-linux-gnu/demo
            /lib/x86_64-linux-gnu/demo/plugin.so
            /sbin
            /sbin/demod
            /usr
            /usr/share
            /usr/share/doc
            /usr/share/doc/demo
            /usr/share/doc/demo/copyright
            /bin/demo-link

            """, "dpkg-deb puts symbolic links last")
        #expect(Self.read("\(info)/demo.md5sums") == Self.read("\(dir)/demo-root/DEBIAN/md5sums"), "verbatim")
        #expect(Self.read("\(info)/demo.conffiles") == Array("/etc/demo.conf\n".utf8))
        #expect(Self.read("\(info)/demo.preinst") == Array("#!/bin/sh\nexit 0\n".utf8))
        #expect(Self.read("\(info)/demo.triggers") == Array("interest-noawait /usr/share/doc\n".utf8))
        for (name, mode) in [("list", 0o644), ("md5sums", 0o644), ("conffiles", 0o644), ("triggers", 0o644),
                             ("preinst", 0o755), ("postinst", 0o755)] {
            let file = try #require(Self.stat("\(info)/demo.\(name)"))
            #expect(file.st_mode == S_IFREG | mode_t(mode), "\(name)")
            #expect(file.st_uid == 0 && file.st_gid == 0 && file.st_mtim.tv_sec == 0, "\(name)")
        }
        for path in ["var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/info"] {
            let directory = try #require(Self.stat("\(layer)/\(path)"))
            #expect(directory.st_mode == S_IFDIR | 0o755 && directory.st_uid == 0 && directory.st_mtim.tv_sec == 0, "\(path)")
        }
        // The root keeps the package's own mtime (its `./` entry's) although var/ was added to it.
        let root = try #require(Self.stat(layer))
        #expect(root.st_mode == S_IFDIR | 0o755)
        #expect(root.st_mtim.tv_sec > 1_000_000_000)

        // The conffile's hash is md5sum's, and the status paragraph carries it.
        let md5 = String(decoding: try Self.shell("md5sum \(Self.quote(layer))/etc/demo.conf"), as: UTF8.self).prefix(32)
        #expect(report.conffiles == [DpkgConffile(path: "/etc/demo.conf", hash: String(md5))])
        #expect(try DebLayer.statusEntry(deb: deb, layer: layer) == report.statusEntry)
    }

    @Test func multiArchSameNamesTheInfoFilesWithTheArchitecture() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.libdemo(in: dir)
        let layer = "\(dir)/layer"
        try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
        let report = try DebLayer.unpack(deb: deb, into: layer)
        #expect(report.multiArch == "same")
        #expect(report.statusEntry.infoName == "libdemo1:amd64")
        #expect(report.infoFiles == ["list", "md5sums", "shlibs"].map { "var/lib/dpkg/info/libdemo1:amd64.\($0)" })
        #expect(Self.read("\(layer)/var/lib/dpkg/info/libdemo1:amd64.shlibs") == Array("libdemo 1 libdemo1\n".utf8))
        // Both /lib and /usr/lib content ends up in usr/lib.
        #expect(Self.read("\(layer)/usr/lib/x86_64-linux-gnu/libdemo.so.1") == Array("elf\n".utf8))
        #expect(Self.read("\(layer)/usr/lib/x86_64-linux-gnu/libdemo-extra.so.1") == Array("more\n".utf8))
    }

    /// dpkg itself, unpacking the same `.deb`s: identical info files, and the same status
    /// paragraph except for the conffile hashes (dpkg leaves `newconffile` until configure;
    /// the layer already holds the file, so its hash is known).
    @Test func matchesWhatDpkgWrites() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for deb in [try Self.demo(in: dir), try Self.libdemo(in: dir)] {
            let layer = "\(dir)/layer-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
            let report = try DebLayer.unpack(deb: deb, into: layer)
            let admin = try Self.dpkgReference(deb, in: dir)
            let theirs = try FileManager.default.contentsOfDirectory(atPath: "\(admin)/info").filter { $0 != "format" }.sorted()
            let ours = try FileManager.default.contentsOfDirectory(atPath: "\(layer)/var/lib/dpkg/info").sorted()
            #expect(ours == theirs, "\(deb)")
            for name in theirs {
                #expect(Self.read("\(layer)/var/lib/dpkg/info/\(name)") == Self.read("\(admin)/info/\(name)"), "\(name)")
            }
            let entry = report.statusEntry
            let unhashed = DpkgStatusEntry(
                package: entry.package, version: entry.version, architecture: entry.architecture, multiArch: entry.multiArch,
                fields: entry.fields,
                conffiles: entry.conffiles.map { DpkgConffile(path: $0.path, hash: DpkgConffile.newConffileHash, flags: $0.flags) })
            #expect(String(decoding: DpkgStatus.render([unhashed]), as: UTF8.self)
                == String(decoding: Self.read("\(admin)/status"), as: UTF8.self), "\(deb)")
        }
    }

    @Test func generatesMD5SumsAndFlagsConffilesLikeDpkg() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.build(Spec(
            control: "Package: confs\nVersion: 0:1.0\nArchitecture: all\nEssential: no\nMulti-Arch: no\nMaintainer: t <t@strata.invalid>\nX-Custom: kept\nDescription: d\n",
            files: [("etc/new.conf", "new\n", 0o644), ("bin/tool", "tool\n", 0o755)],
            hardlinks: [("bin/tool2", "bin/tool")],
            controlFiles: [("conffiles", "remove-on-upgrade /etc/old.conf\n/etc/new.conf\n/etc/missing.conf\n", 0o644)],
            nocheck: true),
            name: "confs", in: dir)
        let layer = "\(dir)/layer"
        try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
        let report = try DebLayer.unpack(deb: deb, into: layer)
        let md5 = { (text: String) in String(decoding: try Self.shell("printf %s \(Self.quote(text)) | md5sum"), as: UTF8.self).prefix(32) }
        #expect(report.conffiles == [
            DpkgConffile(path: "/etc/old.conf", hash: "newconffile", flags: ["remove-on-upgrade"]),
            DpkgConffile(path: "/etc/new.conf", hash: String(try md5("new\n"))),
            DpkgConffile(path: "/etc/missing.conf", hash: "newconffile"),
        ])
        #expect(report.warnings == ["/etc/missing.conf: conffile is missing in the layer; recorded as newconffile"])
        #expect(String(decoding: Self.read("\(layer)/var/lib/dpkg/info/confs.md5sums"), as: UTF8.self) == """
            \(try md5("tool\n"))  bin/tool
            \(try md5("tool\n"))  bin/tool2
            \(try md5("new\n"))  etc/new.conf

            """)
        let admin = try Self.dpkgReference(deb, in: dir)
        #expect(Self.read("\(layer)/var/lib/dpkg/info/confs.md5sums") == Self.read("\(admin)/info/confs.md5sums"))
        #expect(Self.read("\(layer)/var/lib/dpkg/info/confs.list") == Self.read("\(admin)/info/confs.list"))
        let rendered = String(decoding: DpkgStatus.render([report.statusEntry]), as: UTF8.self)
        #expect(rendered == String(decoding: Self.read("\(admin)/status"), as: UTF8.self)
            .replacingOccurrences(of: "/etc/new.conf newconffile", with: "/etc/new.conf \(try md5("new\n"))"))
    }

    // MARK: - reproducibility

    /// Every item of the tree under `root`: path, type and mode, owner, size, mtime, content
    /// or link target.
    static func snapshot(_ root: String) throws -> [String] {
        var lines: [String] = []
        let items = (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).sorted()
        for item in [""] + items {
            let path = item.isEmpty ? root : "\(root)/\(item)"
            let info = try #require(stat(path))
            var line = "\(item) \(String(info.st_mode, radix: 8)) \(info.st_uid):\(info.st_gid) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_nlink)"
            if info.st_mode & S_IFMT == S_IFREG { line += " " + Data(read(path)).base64EncodedString() }
            if info.st_mode & S_IFMT == S_IFLNK { line += " -> " + (try FileManager.default.destinationOfSymbolicLink(atPath: path)) }
            lines.append(line)
        }
        return lines
    }

    @Test func unpackingTwiceGivesIdenticalTrees() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.demo(in: dir)
        var trees: [[String]] = []
        for index in 0..<2 {
            let layer = "\(dir)/layer-\(index)"
            try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
            _ = try DebLayer.unpack(deb: deb, into: layer)
            trees.append(try Self.snapshot(layer))
            // A second later, so that any clock-dependent mtime would differ.
            if index == 0 { sleep(1) }
        }
        #expect(trees[0].count > 20)
        #expect(trees[0] == trees[1])
    }

    // MARK: - refusals

    /// The layer's parent after a refused unpack: only the destination (which the caller removes).
    static func expectOnlyDestination(in parent: String, _ comment: Comment? = nil) throws {
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["dest"], comment)
    }

    @Test func refusesATamperedDataMember() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.demo(in: dir)
        var members = DebPackageTests.arMembers(Self.read(deb))
        #expect(members[2].0 == "data.tar.xz")
        members[2].1[members[2].1.count / 2] ^= 0xFF
        let parent = "\(dir)/tampered"
        try FileManager.default.createDirectory(atPath: "\(parent)/dest", withIntermediateDirectories: true)
        let bad = "\(dir)/tampered.deb"
        try Data(DebPackageTests.arArchive(members)).write(to: URL(fileURLWithPath: bad))
        do throws(DebLayerError) {
            _ = try DebLayer.unpack(deb: bad, into: "\(parent)/dest")
            Issue.record("a tampered .deb was unpacked")
        } catch {
            guard case .unpack(let path, _) = error else { Issue.record("expected .unpack, got \(error)"); return }
            #expect(path == bad)
        }
        try Self.expectOnlyDestination(in: parent)
    }

    @Test func refusesATruncatedDeb() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = Self.read(try Self.demo(in: dir))
        let parent = "\(dir)/short"
        try FileManager.default.createDirectory(atPath: "\(parent)/dest", withIntermediateDirectories: true)
        let bad = "\(dir)/short.deb"
        try Data(bytes.prefix(bytes.count - 50)).write(to: URL(fileURLWithPath: bad))
        let copy = "\(dir)/named-copy"
        do throws(DebLayerError) {
            _ = try DebLayer.unpack(deb: bad, into: "\(parent)/dest", dataCopy: copy)
            Issue.record("a truncated .deb was unpacked")
        } catch {
            guard case .package(let inner) = error, case .corrupt(let path, _, _) = inner else {
                Issue.record("expected .package(.corrupt), got \(error)"); return
            }
            #expect(path == bad)
        }
        try Self.expectOnlyDestination(in: parent)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(parent)/dest").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: copy))
    }

    @Test func refusesANonEmptyDestination() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.libdemo(in: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/dest/x", withIntermediateDirectories: true)
        #expect(throws: DebLayerError.destinationNotEmpty(deb: deb, destination: "\(dir)/dest")) {
            _ = try DebLayer.unpack(deb: deb, into: "\(dir)/dest")
        }
    }

    @Test func refusesAPackageThatShipsItsOwnDatabaseFiles() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.build(Spec(
            control: "Package: sneaky\nVersion: 1\nArchitecture: all\nMaintainer: t <t@strata.invalid>\nDescription: d\n",
            files: [("var/lib/dpkg/info/sneaky.list", "/etc/shadow\n", 0o644)]), name: "sneaky", in: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/dest", withIntermediateDirectories: true)
        #expect(throws: DebLayerError.conflictingEntry(deb: deb, path: "var/lib/dpkg/info/sneaky.list",
                                                       reason: "the package's data already holds this file")) {
            _ = try DebLayer.unpack(deb: deb, into: "\(dir)/dest")
        }
        let symlinked = try Self.build(Spec(
            control: "Package: sneaky2\nVersion: 1\nArchitecture: all\nMaintainer: t <t@strata.invalid>\nDescription: d\n",
            directories: ["var/lib"], symlinks: [("var/lib/dpkg", "/var/lib/dpkg")]), name: "sneaky2", in: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/dest2", withIntermediateDirectories: true)
        #expect(throws: DebLayerError.conflictingEntry(deb: symlinked, path: "var/lib/dpkg",
                                                       reason: "the package put a non-directory where the dpkg database goes")) {
            _ = try DebLayer.unpack(deb: symlinked, into: "\(dir)/dest2")
        }
    }

    @Test func refusesAnUnusableControlParagraph() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try Self.build(Spec(
            control: "Package: bad\nVersion: 1\nArchitecture: all\nMulti-Arch: sometimes\nMaintainer: t <t@strata.invalid>\nDescription: d\n",
            nocheck: true),
            name: "bad", in: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/dest", withIntermediateDirectories: true)
        #expect(throws: DebLayerError.invalidControl(deb: deb, .invalidValue(field: "Multi-Arch", value: "sometimes", package: "bad", line: 4))) {
            _ = try DebLayer.unpack(deb: deb, into: "\(dir)/dest")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/dest").isEmpty, "nothing unpacked")
    }

    // MARK: - other .debs

    /// The file list of `deb` as `tar -t` prints its data tarball, in dpkg's spelling.
    static func tarList(_ deb: String) throws -> String {
        let names = String(decoding: try shell("dpkg-deb --fsys-tarfile \(quote(deb)) | tar -t --quoting-style=literal"), as: UTF8.self)
        return names.split(separator: "\n").map { name -> String in
            var name = String(name)
            while name.count > 1, name.hasSuffix("/") { name.removeLast() }
            if name.hasPrefix("./") { name.removeFirst(2) }
            return name.isEmpty || name == "." ? "/." : "/" + name
        }.joined(separator: "\n") + "\n"
    }

    @Test func unpacksEveryGeneratedDeb() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (index, deb) in try DebPackageTests.debs().enumerated() {
            let layer = "\(dir)/layer-\(index)"
            try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
            let report = try DebLayer.unpack(deb: deb, into: layer)
            let list = "\(layer)/var/lib/dpkg/info/\(report.statusEntry.infoName).list"
            #expect(String(decoding: Self.read(list), as: UTF8.self) == (try Self.tarList(deb)), "\(deb)")
            for name in ["bin", "sbin", "lib", "lib64"] { #expect(Self.stat("\(layer)/\(name)") == nil, "\(deb): \(name)") }
        }
    }

    static let cachedDebs: [String] = {
        let dir = "/var/cache/apt/archives"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".deb") }.sorted().prefix(5).map { "\(dir)/\($0)" }
    }()

    @Test(.enabled(if: !cachedDebs.isEmpty, "no .deb in /var/cache/apt/archives"))
    func unpacksRealBookwormDebs() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (index, deb) in Self.cachedDebs.enumerated() {
            let layer = "\(dir)/layer-\(index)"
            try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
            let report = try DebLayer.unpack(deb: deb, into: layer)
            let info = "\(layer)/var/lib/dpkg/info/\(report.statusEntry.infoName)"
            #expect(String(decoding: Self.read(info + ".list"), as: UTF8.self) == (try Self.tarList(deb)), "\(deb)")
            let md5sums = String(decoding: try Self.shell("dpkg-deb --ctrl-tarfile \(Self.quote(deb)) | tar -xO ./md5sums 2>/dev/null || true"),
                                 as: UTF8.self)
            if !md5sums.isEmpty { #expect(String(decoding: Self.read(info + ".md5sums"), as: UTF8.self) == md5sums) }
            for conffile in report.conffiles where conffile.hash != DpkgConffile.newConffileHash {
                let mapped = MergedUsr.map(DebLayer.components(Array(conffile.path.utf8))!).map { String(decoding: $0, as: UTF8.self) }
                let sum = String(decoding: try Self.shell("md5sum \(Self.quote(layer + "/" + mapped.joined(separator: "/")))"), as: UTF8.self)
                #expect(conffile.hash == String(sum.prefix(32)), "\(deb): \(conffile.path)")
            }
        }
    }

    // MARK: - the merged-/usr skeleton

    @Test func skeletonLinksTheTopLevelDirectoriesIntoUsr() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var trees: [[String]] = []
        for index in 0..<2 {
            let layer = "\(dir)/skeleton-\(index)"
            try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: false)
            try MergedUsr.skeleton(into: layer)
            for name in ["bin", "sbin", "lib", "lib64"] {
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(layer)/\(name)") == "usr/\(name)")
                let link = try #require(Self.stat("\(layer)/\(name)"))
                #expect(link.st_mtim.tv_sec == 0 && link.st_uid == 0)
                let target = try #require(Self.stat("\(layer)/usr/\(name)"))
                #expect(target.st_mode == S_IFDIR | 0o755 && target.st_mtim.tv_sec == 0 && target.st_uid == 0)
            }
            #expect(Self.stat("\(layer)/usr").map { $0.st_mode == S_IFDIR | 0o755 && $0.st_mtim.tv_sec == 0 } == true)
            #expect(Self.stat(layer).map { $0.st_mode == S_IFDIR | 0o755 && $0.st_mtim.tv_sec == 0 } == true)
            trees.append(try Self.snapshot(layer))
        }
        #expect(trees[0] == trees[1])
        #expect(trees[0].count == 10)
    }
}

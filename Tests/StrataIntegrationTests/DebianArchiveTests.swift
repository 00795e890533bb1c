import Foundation
import StrataModel
import Testing

/// `strata lock` and `strata build` against the local archive of scripts/debian-test-archive.py
/// (see DebianFixture): its packages hold tiny text files, so the tests use variant `extract`,
/// which runs no maintainer scripts, and look inside with busybox on top.
@Suite struct DebianArchiveTests {
    /// What `tool` resolves to: every relation form of the archive on one path.
    static let toolClosure: Set<String> = ["libgcc-s1", "libc6", "dash", "libexpat1", "make", "mta", "zlib1g",
                                           "python3-minimal", "tool"]

    // MARK: lock

    @Test func lockResolvesRelationsAndIsByteIdentical() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"])
        let first = harness.strata(["lock", "t"])
        #expect(first.status == 0, "\(first.stderr)")
        let debs = try harness.lockedDebs("t")
        let names = debs.map(\.name)
        // mail-transport-agent | postfix: the first alternative, through a provider (mta); sh and
        // libgcc1 (>= 1:12) through Provides (the second versioned); zlib1g | libz-ng: the first;
        // python3-minimal:any (Multi-Arch allowed) and make:any (foreign).
        #expect(Set(names) == Self.toolClosure, "\(names)")
        #expect(names.count == Self.toolClosure.count, "each package once: \(names)")
        #expect(!names.contains("postfix") && !names.contains("libz-ng") && !names.contains("make-doc"), "\(names)")
        // Install order: what a package (pre-)depends on comes before it.
        let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let edges: [(String, String)] = [
            ("libc6", "dash"), ("libc6", "python3-minimal"),  // Pre-Depends
            ("libgcc-s1", "libc6"), ("libc6", "libexpat1"), ("libc6", "zlib1g"), ("libc6", "make"),
            ("libexpat1", "python3-minimal"), ("zlib1g", "python3-minimal"),
            ("python3-minimal", "tool"), ("make", "tool"), ("dash", "tool"), ("libgcc-s1", "tool"), ("mta", "tool"),
        ]
        for (dependency, dependent) in edges {
            #expect(position[dependency]! < position[dependent]!, "\(dependency) before \(dependent): \(names)")
        }
        // Every pin is the archive's exact file.
        let index = try DebianFixture.index()
        for deb in debs {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: DebianFixture.archive + "/" + deb.path))
            #expect(deb.sha256 == Digest.sha256(of: Array(bytes)).description, "\(deb.name)")
            #expect(deb.size == bytes.count, "\(deb.name)")
            #expect(index[deb.name]?[deb.version]?["Filename"] == deb.path, "\(deb.name) \(deb.version)")
        }
        #expect(debs.first { $0.name == "zlib1g" }?.version == "1:1.2.13.dfsg-1", "epochs are kept")
        #expect(debs.first { $0.name == "mta" }?.architecture == "all")

        let bytes = try harness.read("lockfiles/t.lock.json")
        #expect(!bytes.contains("127.0.0.1") && !bytes.contains(DebianFixture.shared.url), "no mirror in the lockfile")
        #expect(bytes.contains("\"codename\": \"strata\"") && bytes.contains("\"suite\": \"testing\""), "\(bytes)")
        #expect(bytes.contains("\"date\": \"Thu, 01 Jan 2026 00:00:00 UTC\""), "\(bytes)")
        #expect(bytes.contains("\"path\": \"main/binary-amd64/Packages"), "the index is pinned: \(bytes)")

        let again = harness.strata(["lock", "t"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("up to date"), "\(again.stdout)")
        #expect(try harness.read("lockfiles/t.lock.json") == bytes)
        try FileManager.default.removeItem(atPath: harness.project + "/lockfiles/t.lock.json")
        #expect(harness.strata(["lock", "t"]).status == 0)
        #expect(try harness.read("lockfiles/t.lock.json") == bytes, "locking from scratch gives the same bytes")
        // A store without the cached index resolves to the same bytes too.
        try FileManager.default.removeItem(atPath: harness.project + "/lockfiles/t.lock.json")
        #expect(harness.strata(["lock", "t"], env: ["STRATA_ROOT": harness.store + "-other"]).status == 0)
        #expect(try harness.read("lockfiles/t.lock.json") == bytes, "another store gives the same bytes")
        _ = Harness.exec(["/bin/rm", "-rf", harness.store + "-other"], cwd: "/", env: [:])
    }

    static let choices: [(variant: String, packages: [String], recommends: Bool?, expected: Set<String>, why: String)] = [
        ("extract", ["postfix", "tool"], nil,
         ["base-files", "libgcc-s1", "libc6", "dash", "libexpat1", "make", "postfix", "zlib1g", "python3-minimal", "tool"],
         "an alternative already chosen (postfix) is preferred to the first (mta)"),
        ("extract", ["python3-minimal", "libz-ng"], nil, ["libgcc-s1", "libc6", "libexpat1", "libz-ng", "python3-minimal"],
         "zlib1g | libz-ng takes the requested libz-ng"),
        ("extract", ["python3-any"], nil, ["libgcc-s1", "libc6", "libexpat1", "zlib1g", "python3-minimal"],
         "a virtual package through a versioned Provides"),
        ("extract", ["libgcc1"], nil, ["libgcc-s1"], "a virtual package with a single provider"),
        ("extract", ["make:amd64", "libc6:amd64"], nil, ["libgcc-s1", "libc6", "make"], "NAME:ARCH requests"),
        ("extract", ["tool=1.0~rc1-1"], nil, toolClosure, "NAME=VERSION with a tilde"),
        ("extract", ["make"], false, ["libgcc-s1", "libc6", "make"], "Recommends are left out by default"),
        ("extract", ["make"], true, ["libgcc-s1", "libc6", "make", "make-doc"], "\"recommends\": true adds make-doc"),
        ("essential", [], nil, ["base-files", "dash", "libc6", "libgcc-s1"], "Essential: yes and what it needs"),
        ("minbase", [], nil, ["base-files", "dash", "libc6", "libgcc-s1", "zlib1g"], "plus Priority: required"),
    ]

    @Test(arguments: 0..<choices.count)
    func lockChoosesAsApt(_ index: Int) throws {
        let item = Self.choices[index]
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("c", packages: item.packages, variant: item.variant, recommends: item.recommends)
        let result = harness.strata(["lock", "c"])
        #expect(result.status == 0, "\(item.why): \(result.stderr)")
        let names = try harness.lockedDebs("c").map(\.name)
        #expect(Set(names) == item.expected && names.count == item.expected.count, "\(item.why): \(names)")
    }

    static let unsatisfiable: [(packages: [String], mentions: [String])] = [
        (["mta", "postfix"], ["postfix", "mta 1.0", "Conflicts: mail-transport-agent"]),
        (["broken"], ["does-not-exist (>= 1)", "broken 0.1", "broken → does-not-exist"]),
        (["nosuch"], ["nosuch", "no package or provider"]),
        (["tool=2.0"], ["tool (= 2.0)", "available: tool 1.0~rc1-1"]),
        (["libc6:i386"], ["libc6:i386", "Multi-Arch: same"]),
    ]

    @Test(arguments: 0..<unsatisfiable.count)
    func unsatisfiableRequestIsExplained(_ index: Int) throws {
        let item = Self.unsatisfiable[index]
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("u", packages: item.packages)
        let result = harness.strata(["lock", "u"])
        #expect(result.status == 1, "\(item.packages): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(result.stderr.contains("cannot satisfy"), "\(result.stderr)")
        for text in item.mentions { #expect(result.stderr.contains(text), "\(item.packages) names \(text): \(result.stderr)") }
        #expect(!harness.lockfileExists("u"), "no lockfile is written")
    }

    // MARK: build

    @Test func buildInstallsExactlyTheLockedPackages() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], busybox: true)
        let built = harness.strata(["build", "t"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.hasPrefix("sha256:"), "\(built.stdout)")
        let debs = try harness.lockedDebs("t")

        let files = harness.strata(["run", "t", "--", "sh", "-c",
                                    "cat /usr/bin/tool /usr/bin/python3 /usr/sbin/sendmail; ls /usr/lib/x86_64-linux-gnu"])
        #expect(files.status == 0, "\(files.stderr)")
        #expect(files.stdout == "#!/bin/sh\n#!/bin/sh\necho python\n#!/bin/sh\nlibc.so.6\nlibexpat.so.1\nlibgcc_s.so.1\nlibz.so.1\n",
                "\(files.stdout)")

        let status = harness.strata(["run", "t", "--", "cat", "/var/lib/dpkg/status"])
        #expect(status.status == 0, "\(status.stderr)")
        var installed: [String: String] = [:]
        for paragraph in status.stdout.components(separatedBy: "\n\n") where !paragraph.isEmpty {
            let fields = Dictionary(paragraph.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" ") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }, uniquingKeysWith: { a, _ in a })
            #expect(fields["Status"] == "install ok installed", "\(paragraph)")
            installed[fields["Package"] ?? "?"] = fields["Version"]
        }
        #expect(installed == Dictionary(uniqueKeysWithValues: debs.map { ($0.name, $0.version) }), "\(status.stdout)")

        // dpkg's file lists, named PKG:ARCH.list for Multi-Arch: same packages, as dpkg does.
        let index = try DebianFixture.index()
        let lists = debs.map { deb -> String in
            let same = index[deb.name]?[deb.version]?["Multi-Arch"] == "same"
            return "/var/lib/dpkg/info/\(deb.name)\(same ? ":" + deb.architecture : "").list"
        }
        let listed = harness.strata(["run", "t", "--", "sh", "-c", "for f in \"$@\"; do test -s \"$f\" || echo missing $f; done; grep -x /usr/bin/tool /var/lib/dpkg/info/tool.list", "sh"] + lists)
        #expect(listed.status == 0, "\(listed.stdout) \(listed.stderr)")
        #expect(listed.stdout == "/usr/bin/tool\n", "\(listed.stdout)")

        // Built already: nothing is fetched or unpacked again.
        let layers = harness.storeEntries("layers"), blobs = harness.storeEntries("blobs/sha256")
        let layersDate = try FileManager.default.attributesOfItem(atPath: harness.store + "/layers")[.modificationDate] as? Date
        let again = harness.strata(["build", "t"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout == built.stdout, "the same snapshot")
        #expect(harness.storeEntries("layers") == layers && harness.storeEntries("blobs/sha256") == blobs)
        let laterDate = try FileManager.default.attributesOfItem(atPath: harness.store + "/layers")[.modificationDate] as? Date
        #expect(layersDate == laterDate, "a second build unpacks nothing")
        #expect(harness.storeEntries("tmp").isEmpty, "\(harness.storeEntries("tmp"))")
    }

    /// Maintainer scripts that cannot run (the test archive's packages hold no real shell)
    /// stop the build with the reason; no configured layer or session is left.
    @Test func failedConfigureLeavesNothingHalfDone() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], variant: "minbase")
        #expect(harness.strata(["lock", "t"]).status == 0)
        let built = harness.strata(["build", "t"])
        #expect(built.status == 1, "\(built.stdout) \(built.stderr)")
        #expect(built.stderr.contains("/bin/sh"), "\(built.stderr)")
        let debs = try harness.lockedDebs("t")
        // The skeleton, one layer per package and the status: nothing configured, nothing flattened.
        #expect(harness.storeEntries("layers").count == debs.count + 2, "\(harness.storeEntries("layers"))")
        #expect(harness.storeEntries("sessions").isEmpty, "\(harness.storeEntries("sessions"))")
        #expect(harness.storeEntries("tmp").isEmpty, "\(harness.storeEntries("tmp"))")
        // Trying again fails the same way (nothing cached that claims success).
        #expect(harness.strata(["build", "t"]).status == 1)
    }

    /// A second environment sharing packages adds only the new packages' blobs and layers
    /// (plus its own dpkg status and configured layers).
    @Test func sharedPackagesAreStoredOnce() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("one", packages: ["tool"], busybox: true)
        try harness.debian("two", packages: ["make", "make-doc"], busybox: true)
        #expect(harness.strata(["build", "one"]).status == 0)
        let layers = harness.storeEntries("layers"), blobs = harness.storeEntries("blobs/sha256")
        let built = harness.strata(["build", "two"])
        #expect(built.status == 0, "\(built.stderr)")
        let two = try harness.lockedDebs("two")
        #expect(Set(two.map(\.name)) == ["libgcc-s1", "libc6", "make", "make-doc"])
        let makeDoc = try #require(two.first { $0.name == "make-doc" })
        let digest = try Digest(parsing: makeDoc.sha256)
        let newBlobs = harness.storeEntries("blobs/sha256").subtracting(blobs)
        #expect(newBlobs == [digest.hex], "only make-doc is downloaded: \(newBlobs)")
        // New: make-doc's layer and what is made for this package set (dpkg status, configured
        // result, any derived form of the stack); no layer of a shared package is made again.
        let newLayers = harness.storeEntries("layers").subtracting(layers)
        let debian = try harness.lockedDebian("two")
        let packageLayers = Set(debian.packages.map { LayerKeys.debianPackage($0.sha256).hex })
        #expect(newLayers.intersection(packageLayers) == [LayerKeys.debianPackage(digest).hex], "\(newLayers)")
        #expect(newLayers.isSuperset(of: [debian.statusKey.hex, debian.configuredKey.hex]), "\(newLayers)")
        #expect(newLayers.count <= 4, "one package layer and the environment's own few: \(newLayers)")
        #expect(harness.storeEntries("layers").isSuperset(of: layers))
        let doc = harness.strata(["run", "two", "--", "cat", "/usr/share/doc/make/manual.txt"])
        #expect(doc.stdout == "make\n", "\(doc.stderr)")
    }

    /// gc after one of two environments sharing packages loses its lockfile: the shared
    /// packages' layers and .debs stay, the other's own go, and the one left still runs.
    @Test func gcKeepsSharedPackagesAndRemovesTheRest() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("one", packages: ["tool"], busybox: true)
        try harness.debian("two", packages: ["make", "make-doc"], busybox: true)
        #expect(harness.strata(["build", "one"]).status == 0)
        #expect(harness.strata(["build", "two"]).status == 0)
        let one = try harness.lockedDebian("one"), two = try harness.lockedDebian("two")
        unlink(harness.project + "/lockfiles/one.lock.json")
        let gc = harness.strata(["gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let layers = harness.storeEntries("layers"), blobs = harness.storeEntries("blobs/sha256")
        for package in two.packages {
            #expect(layers.contains(LayerKeys.debianPackage(package.sha256).hex) && blobs.contains(package.sha256.hex), "\(package.name) stays")
        }
        for package in one.packages where !two.packages.contains(package) {
            #expect(!layers.contains(LayerKeys.debianPackage(package.sha256).hex) && !blobs.contains(package.sha256.hex), "\(package.name) goes")
        }
        #expect(!layers.contains(one.configuredKey.hex) && layers.contains(two.configuredKey.hex))
        #expect(!layers.contains(LayerKeys.flattened(one.layerKeys).hex) && layers.contains(LayerKeys.flattened(two.layerKeys).hex))
        let doc = harness.strata(["run", "two", "--", "cat", "/usr/share/doc/make/manual.txt"])
        #expect(doc.stdout == "make\n", "\(doc.stderr)")
    }

    /// fsck names a corrupt .deb and a changed file in its package's layer; --repair fetches
    /// the .deb from the mirror again and unpacks the layer again.
    @Test func fsckRepairFetchesADebAgain() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("two", packages: ["make", "make-doc"], busybox: true)
        #expect(harness.strata(["build", "two"]).status == 0)
        let debian = try harness.lockedDebian("two")
        let doc = try #require(debian.packages.first { $0.name == "make-doc" })
        let blob = harness.store + "/blobs/sha256/" + doc.sha256.hex
        chmod(blob, 0o644)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: blob))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("trailing".utf8))
        try handle.close()
        let layer = harness.store + "/layers/" + LayerKeys.debianPackage(doc.sha256).hex
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: layer + "/usr/share/doc/make/manual.txt"))
        let check = harness.strata(["fsck"])
        #expect(check.status == 1)
        #expect(check.stdout.contains("blob \(doc.sha256)") && check.stdout.contains("/usr/share/doc/make/manual.txt: content changed"),
                "\(check.stdout)")
        let repair = harness.strata(["fsck", "--repair"])
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(harness.strata(["fsck"]).stdout.contains("no problems"))
        let run = harness.strata(["run", "two", "--", "cat", "/usr/share/doc/make/manual.txt"])
        #expect(run.stdout == "make\n", "\(run.stderr)")
    }

    /// Files a package ships under /bin, /sbin or /lib land under /usr (merged /usr).
    @Test func mergedUsrMovesBinAndLib() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("split", packages: ["splitusr"], mirrors: [DebianFixture.shared.url + "/next"], busybox: true)
        let built = harness.strata(["build", "split"])
        #expect(built.status == 0, "\(built.stderr)")
        let result = harness.strata(["run", "split", "--", "sh", "-c",
                                     "cat /usr/bin/splitusr /usr/lib/x86_64-linux-gnu/libsplitusr.so.1; test -x /usr/sbin/splitusrd && echo sbin; grep -x /bin/splitusr /var/lib/dpkg/info/splitusr.list"])
        #expect(result.status == 0, "\(result.stderr)")
        // dpkg's list keeps the paths as the package ships them, as dpkg does on a merged-/usr system.
        #expect(result.stdout == "#!/bin/sh\necho split\nsplit lib\nsbin\n/bin/splitusr\n", "\(result.stdout)")
        let deb = try #require(try harness.lockedDebs("split").first { $0.name == "splitusr" })
        let layer = harness.store + "/layers/" + LayerKeys.debianPackage(try Digest(parsing: deb.sha256)).hex
        let top = Set(try FileManager.default.contentsOfDirectory(atPath: layer))
        #expect(top == ["usr", "var"], "the package's layer holds usr/ and its dpkg info, no bin/, sbin/, lib/: \(top)")
    }

    // MARK: verification

    /// Served bytes that differ from the index are refused before anything is stored.
    @Test func tamperedDebIsRefused() throws {
        let mirror = try ArchiveMirror.copy()
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], mirrors: [mirror.url], busybox: true)
        #expect(harness.strata(["lock", "t"]).status == 0)
        let tool = try #require(try harness.lockedDebs("t").first { $0.name == "tool" })
        let digest = try Digest(parsing: tool.sha256)

        func expectNothingStored(_ context: String) {
            #expect(!harness.storeEntries("blobs/sha256").contains(digest.hex), "\(context): no blob for tool")
            #expect(!harness.storeEntries("layers").contains(LayerKeys.debianPackage(digest).hex), "\(context): no layer")
            #expect(harness.storeEntries("tmp").isEmpty, "\(context): tmp/ is empty: \(harness.storeEntries("tmp"))")
        }

        // Same length, other bytes: the digest differs.
        try mirror.faults(#"{"corrupt": {"\#(tool.path)": [1, 1, 1, 1, 1, 1]}}"#)
        let corrupt = harness.strata(["build", "t"])
        #expect(corrupt.status == 1, "\(corrupt.stdout) \(corrupt.stderr)")
        #expect(corrupt.stderr.contains(tool.path) && corrupt.stderr.contains("digest"), "\(corrupt.stderr)")
        #expect(corrupt.stderr.contains(digest.description), "names the pinned digest: \(corrupt.stderr)")
        expectNothingStored("corrupt")

        // The file replaced after locking, with another length.
        try mirror.faults("{}")
        let file = mirror.directory + "/" + tool.path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let original = bytes
        bytes.append(contentsOf: [0, 1, 2, 3])
        try bytes.write(to: URL(fileURLWithPath: file))
        let longer = harness.strata(["build", "t"])
        #expect(longer.status == 1, "\(longer.stdout) \(longer.stderr)")
        #expect(longer.stderr.contains(tool.path) && longer.stderr.contains("\(tool.size)"), "\(longer.stderr)")
        #expect(longer.stderr.contains("bytes"), "a size message: \(longer.stderr)")
        expectNothingStored("longer")

        // The right bytes again: the build goes through.
        try original.write(to: URL(fileURLWithPath: file))
        let fixed = harness.strata(["build", "t"])
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(harness.storeEntries("blobs/sha256").contains(digest.hex))
    }

    static let refusedReleases: [(name: String, mentions: [String])] = [
        ("tampered", ["bad signature", "InRelease"]),
        ("other-keyring", ["not in the trusted keyring"]),
        ("expired", ["expired on"]),
        ("release-only", ["dists/testing/InRelease", "HTTP 404"]),
        ("unsigned-inrelease", ["is not signed"]),
    ]

    @Test(arguments: 0..<refusedReleases.count)
    func badReleaseIsRefused(_ index: Int) throws {
        let item = Self.refusedReleases[index]
        let mirror = try ArchiveMirror.copy()
        let harness = try Harness()
        defer { harness.cleanup() }
        let dist = mirror.directory + "/dists/testing/"
        var suite = "testing", keyring = "keyring.gpg"
        switch item.name {
        case "tampered":
            try FileManager.default.removeItem(atPath: dist + "InRelease")
            try FileManager.default.moveItem(atPath: dist + "InRelease.tampered", toPath: dist + "InRelease")
        case "other-keyring": keyring = "other-keyring.gpg"
        case "expired": suite = "expired"
        case "release-only": try FileManager.default.removeItem(atPath: dist + "InRelease")
        default:
            try FileManager.default.removeItem(atPath: dist + "InRelease")
            try FileManager.default.copyItem(atPath: dist + "Release", toPath: dist + "InRelease")
        }
        try harness.debian("r", packages: ["tool"], mirrors: [mirror.url], suite: suite, keyring: keyring)
        let result = harness.strata(["lock", "r"])
        #expect(result.status == 1, "\(item.name): \(result.stderr)")
        for text in item.mentions { #expect(result.stderr.contains(text), "\(item.name) names \(text): \(result.stderr)") }
        #expect(!harness.lockfileExists("r"), "\(item.name): no lockfile")
        #expect(harness.storeEntries("cache/debian").isEmpty, "\(item.name): no index was read: \(harness.storeEntries("cache/debian"))")
    }

    // MARK: mirrors

    @Test func deadMirrorIsSkipped() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("m", packages: ["tool"], mirrors: [DebianFixture.deadMirror, DebianFixture.shared.url], busybox: true)
        let locked = harness.strata(["lock", "m"])
        #expect(locked.status == 0, "\(locked.stderr)")
        let built = harness.strata(["build", "m"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(harness.strata(["run", "m", "--", "cat", "/usr/bin/tool"]).stdout == "#!/bin/sh\n")
    }

    @Test func everyMirrorDownIsNamed() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let other = "http://127.0.0.1:2"
        try harness.debian("m", packages: ["tool"], mirrors: [DebianFixture.deadMirror, other])
        let result = harness.strata(["lock", "m"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(DebianFixture.deadMirror) && result.stderr.contains(other), "\(result.stderr)")
        #expect(result.stderr.contains("dists/testing/InRelease"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!harness.lockfileExists("m"))

        // Locked, then the mirror goes away before the build.
        let mirror = try ArchiveMirror.copy()
        try harness.debian("b", packages: ["tool"], mirrors: [mirror.url])
        #expect(harness.strata(["lock", "b"]).status == 0)
        // "*" counts every path's requests together: more failures than all attempts at all .debs.
        let failures = Array(repeating: "503", count: 500).joined(separator: ", ")
        try mirror.faults(#"{"fail": {"*": [\#(failures)]}}"#)
        let build = harness.strata(["build", "b"])
        #expect(build.status == 1, "\(build.stderr)")
        #expect(build.stderr.contains(mirror.url) && build.stderr.contains("HTTP 503"), "\(build.stderr)")
        #expect(harness.storeEntries("tmp").isEmpty, "\(harness.storeEntries("tmp"))")
    }

    /// `--mirror` and STRATA_DEBIAN_MIRROR come before the manifest's mirror.
    @Test func mirrorOverridesComeFirst() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("m", packages: ["tool"], mirrors: [DebianFixture.deadMirror], busybox: true)
        let flag = harness.strata(["lock", "m", "--mirror", DebianFixture.shared.url])
        #expect(flag.status == 0, "\(flag.stderr)")
        let built = harness.strata(["build", "m", "--mirror", DebianFixture.shared.url])
        #expect(built.status == 0, "\(built.stderr)")

        let other = try Harness()
        defer { other.cleanup() }
        try other.debian("m", packages: ["tool"], mirrors: [DebianFixture.deadMirror], busybox: true)
        let variable = ["STRATA_DEBIAN_MIRROR": DebianFixture.shared.url]
        let locked = other.strata(["lock", "m"], env: variable)
        #expect(locked.status == 0, "\(locked.stderr)")
        let run = other.strata(["run", "m", "--", "cat", "/usr/bin/tool"], env: variable)
        #expect(run.status == 0 && run.stdout == "#!/bin/sh\n", "\(run.stderr)")
        // --mirror wins over the variable too.
        try FileManager.default.removeItem(atPath: other.project + "/lockfiles/m.lock.json")
        let both = other.strata(["lock", "m", "--mirror", DebianFixture.shared.url],
                                env: ["STRATA_DEBIAN_MIRROR": "http://127.0.0.1:2"])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(try other.read("lockfiles/m.lock.json") == (try harness.read("lockfiles/m.lock.json")))
    }

    @Test func transientErrorsAreRetried() throws {
        let mirror = try ArchiveMirror.copy()
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], mirrors: [mirror.url], busybox: true)
        #expect(harness.strata(["lock", "t"]).status == 0)
        let tool = try #require(try harness.lockedDebs("t").first { $0.name == "tool" })
        try mirror.faults(#"{"fail": {"\#(tool.path)": [500, 500]}}"#)
        let built = harness.strata(["build", "t"])
        #expect(built.status == 0, "\(built.stderr)")
        let attempts = mirror.requests().filter { $0.hasPrefix("GET \(tool.path) ") }
        #expect(attempts == ["GET \(tool.path) 500", "GET \(tool.path) 500", "GET \(tool.path) 200"], "\(mirror.requests())")
        #expect(harness.strata(["run", "t", "--", "cat", "/usr/bin/tool"]).stdout == "#!/bin/sh\n")
    }

    /// A mirror that serves wrong bytes is passed over for the next one in the list.
    @Test func corruptMirrorFallsBackToTheNext() throws {
        let bad = try ArchiveMirror.copy()
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], mirrors: [bad.url, DebianFixture.shared.url], busybox: true)
        #expect(harness.strata(["lock", "t"]).status == 0)
        let tool = try #require(try harness.lockedDebs("t").first { $0.name == "tool" })
        try bad.faults(#"{"corrupt": {"\#(tool.path)": [1, 1, 1, 1, 1, 1]}}"#)
        let built = harness.strata(["build", "t"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(bad.requests().contains("GET \(tool.path) 200"), "the bad mirror was asked first: \(bad.requests())")
        #expect(harness.strata(["run", "t", "--", "cat", "/usr/bin/tool"]).stdout == "#!/bin/sh\n")
    }

    @Test func corruptIndexIsRefused() throws {
        let mirror = try ArchiveMirror.copy()
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], mirrors: [mirror.url])
        try mirror.faults(#"{"corrupt": {"dists/testing/main/binary-amd64/Packages.xz": [1, 1, 1, 1, 1, 1]}}"#)
        let result = harness.strata(["lock", "t"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("main/binary-amd64/Packages.xz") && result.stderr.contains("digest"), "\(result.stderr)")
        #expect(!harness.lockfileExists("t"))
        #expect(harness.storeEntries("cache/debian").isEmpty && harness.storeEntries("blobs/sha256").isEmpty)
        #expect(harness.storeEntries("tmp").isEmpty, "\(harness.storeEntries("tmp"))")
    }

    /// A file:/// mirror gives the same lock as the same archive over HTTP.
    @Test func fileMirror() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("h", packages: ["tool"])
        try harness.debian("f", packages: ["tool"], mirrors: ["file://" + DebianFixture.archive], busybox: true)
        #expect(harness.strata(["lock", "h"]).status == 0)
        let built = harness.strata(["build", "f"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(try harness.lockedDebs("f") == (try harness.lockedDebs("h")))
        #expect(harness.strata(["run", "f", "--", "cat", "/usr/bin/tool"]).stdout == "#!/bin/sh\n")
    }

    /// Builds sharing packages, run at once on one store, all succeed and store each layer once.
    @Test func concurrentBuildsShareTheStore() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let sets = [["tool"], ["tool", "make-doc"], ["tool", "base-files"], ["make", "postfix"]]
        for (n, packages) in sets.enumerated() {
            try harness.debian("e\(n)", packages: packages)
            #expect(harness.strata(["lock", "e\(n)"]).status == 0)
        }
        let processes = try (0..<sets.count).map { try harness.start(["build", "e\($0)"]) }
        for process in processes { process.waitUntilExit() }
        #expect(processes.map(\.terminationStatus) == Array(repeating: 0, count: sets.count))
        var debs = Set<String>()
        var expected = Set<String>()
        for n in 0..<sets.count {
            let debian = try harness.lockedDebian("e\(n)")
            debs.formUnion(debian.packages.map(\.sha256.hex))
            expected.formUnion(debian.layerKeys.map(\.hex))
        }
        // Every environment's stack is complete: the skeleton, one layer per distinct .deb, a
        // status and a configured layer each (plus whatever a build derives from a stack).
        let layers = harness.storeEntries("layers")
        #expect(layers.isSuperset(of: expected), "missing: \(expected.subtracting(layers))")
        #expect(expected.count == 1 + debs.count + 2 * sets.count)
        #expect(layers.count <= expected.count + sets.count, "\(layers.count) layers for \(expected.count) keys")
        #expect(harness.storeEntries("blobs/sha256").isSuperset(of: debs))
        #expect(harness.storeEntries("blobs/sha256").subtracting(debs).count == 1, "the .debs and the index")
        #expect(harness.storeEntries("tmp").isEmpty, "\(harness.storeEntries("tmp"))")
    }

    // MARK: staleness

    /// Only the Debian inputs decide whether packages are resolved again: another mirror keeps
    /// the pins without asking any archive; other packages make a frozen build refuse.
    @Test func pinsHoldUntilTheRequestChanges() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"])
        #expect(harness.strata(["lock", "t"]).status == 0)
        let before = try harness.lockedDebs("t")
        let bytes = try harness.read("lockfiles/t.lock.json")
        try harness.debian("t", packages: ["tool"], mirrors: [DebianFixture.deadMirror])
        let moved = harness.strata(["lock", "t"])
        #expect(moved.status == 0, "no archive is asked: \(moved.stderr)")
        #expect(try harness.lockedDebs("t") == before)

        try harness.debian("t", packages: ["tool", "make-doc"])
        let relocked = try harness.read("lockfiles/t.lock.json")
        let frozen = harness.strata(["build", "--frozen", "t"])
        #expect(frozen.status == 1, "\(frozen.stderr)")
        #expect(frozen.stderr.contains("out of date") && frozen.stderr.contains("Debian packages"), "\(frozen.stderr)")
        #expect(try harness.read("lockfiles/t.lock.json") == relocked, "frozen never rewrites")
        #expect(relocked != bytes)
    }

    /// `lock --check` says why a Debian lock is stale without needing a mirror.
    @Test func checkNeedsNoMirror() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"])
        #expect(harness.strata(["lock", "t"]).status == 0)
        #expect(harness.strata(["lock", "t", "--check"]).status == 0)
        try harness.debian("t", packages: ["tool", "make-doc"], mirrors: [DebianFixture.deadMirror])
        let check = harness.strata(["lock", "t", "--check"])
        #expect(check.status == 1, "\(check.stderr)")
        #expect(check.stderr.contains("is stale"), "\(check.stderr)")
        #expect(!check.stderr.contains("cannot download"), "\(check.stderr)")
    }

    // MARK: update and diff

    @Test func updateMovesOnlyWhatIsNamed() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], busybox: true)
        #expect(harness.strata(["lock", "t"]).status == 0)
        try FileManager.default.copyItem(atPath: harness.project + "/lockfiles/t.lock.json", toPath: harness.project + "/old.lock.json")
        let old = try harness.lockedDebs("t")
        let next = DebianFixture.shared.url + "/next"

        // Without --update, a newer archive changes nothing.
        let plain = harness.strata(["lock", "t", "--mirror", next])
        #expect(plain.status == 0 && plain.stdout.contains("up to date"), "\(plain.stdout) \(plain.stderr)")

        let unknown = harness.strata(["lock", "t", "--update", "nosuch", "--mirror", next])
        #expect(unknown.status == 2 || unknown.status == 1, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("nosuch is not among the locked packages"), "\(unknown.stderr)")
        #expect(try harness.read("lockfiles/t.lock.json") == (try harness.read("old.lock.json")))

        let one = harness.strata(["lock", "t", "--update", "make", "--mirror", next])
        #expect(one.status == 0, "\(one.stderr)")
        let moved = try harness.lockedDebs("t")
        var expected = Dictionary(uniqueKeysWithValues: old.map { ($0.name, $0.version) })
        expected["make"] = "4.4.1-2"
        expected["libgc1"] = "1:8.2.2-3"  // what the new make needs
        #expect(Dictionary(uniqueKeysWithValues: moved.map { ($0.name, $0.version) }) == expected, "\(moved)")
        for deb in old where deb.name != "make" {
            #expect(moved.first { $0.name == deb.name }?.sha256 == deb.sha256, "\(deb.name) keeps its exact .deb")
        }
        #expect(moved.firstIndex { $0.name == "libgc1" }! < moved.firstIndex { $0.name == "make" }!)
        try FileManager.default.copyItem(atPath: harness.project + "/lockfiles/t.lock.json", toPath: harness.project + "/mid.lock.json")

        let diff = harness.strata(["lock", "diff", "old.lock.json", "lockfiles/t.lock.json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout == """
        release     strata Thu, 01 Jan 2026 00:00:00 UTC → strata Fri, 02 Jan 2026 00:00:00 UTC
        added       libgc1 1:8.2.2-3
        upgraded    make 4.3-4.1 → 4.4.1-2

        """, "\(diff.stdout)")

        let all = harness.strata(["lock", "t", "--update", "--mirror", next])
        #expect(all.status == 0, "\(all.stderr)")
        let full = harness.strata(["lock", "diff", "old.lock.json", "lockfiles/t.lock.json"])
        #expect(full.stdout == """
        release     strata Thu, 01 Jan 2026 00:00:00 UTC → strata Fri, 02 Jan 2026 00:00:00 UTC
        added       libgc1 1:8.2.2-3
        removed     libexpat1 2.5.0-1
        upgraded    make 4.3-4.1 → 4.4.1-2
        upgraded    python3-minimal 3.11.2-1+b1 → 3.11.4-1
        upgraded    zlib1g 1:1.2.13.dfsg-1 → 1:1.2.13.dfsg-3

        """, "\(full.stdout)")
        let back = harness.strata(["lock", "diff", "lockfiles/t.lock.json", "mid.lock.json"])
        #expect(back.stdout == """
        added       libexpat1 2.5.0-1
        downgraded  python3-minimal 3.11.4-1 → 3.11.2-1+b1
        downgraded  zlib1g 1:1.2.13.dfsg-3 → 1:1.2.13.dfsg-1

        """, "\(back.stdout)")
        let same = harness.strata(["lock", "diff", "lockfiles/t.lock.json", "lockfiles/t.lock.json"])
        #expect(same.status == 0 && same.stdout == "no package changes\n", "\(same.stdout) \(same.stderr)")

        // The updated lock builds from the new archive (the manifest's mirror is the old one).
        let built = harness.strata(["run", "--mirror", next, "t", "--", "cat", "/usr/bin/make"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout == "#!/bin/sh\necho make 4.4\n", "\(built.stdout)")
    }

    /// A kept version that no longer resolves (the archive dropped it) is said, with what it
    /// moves to, instead of being dropped silently.
    @Test func droppedPinsAreSaid() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"], busybox: true)
        #expect(harness.strata(["lock", "t"]).status == 0)
        #expect(try harness.lockedDebs("t").first { $0.name == "zlib1g" }?.version == "1:1.2.13.dfsg-1")
        let result = harness.strata(["lock", "t", "--update", "make", "--mirror", DebianFixture.shared.url + "/gone"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("could not keep zlib1g 1:1.2.13.dfsg-1 (the archive no longer has it); it moves to 1:1.2.13.dfsg-3"),
                "\(result.stderr)")
        let moved = try harness.lockedDebs("t")
        #expect(moved.first { $0.name == "zlib1g" }?.version == "1:1.2.13.dfsg-3")
        #expect(moved.first { $0.name == "make" }?.version == "4.4.1-2")
        #expect(!result.stderr.contains("could not keep python3-minimal"), "pins the archive still has are kept: \(result.stderr)")
    }

    /// OLD and NEW as git revisions: REV:PATH, or a bare REV meaning NEW's path.
    @Test func lockDiffReadsGitRevisions() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.debian("t", packages: ["tool"])
        #expect(harness.strata(["lock", "t"]).status == 0)
        func git(_ arguments: [String]) {
            let result = Harness.exec(["/usr/bin/git", "-c", "user.name=t", "-c", "user.email=t@strata.invalid",
                                       "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"] + arguments,
                                      cwd: harness.project, env: ["PATH": "/usr/bin:/bin", "HOME": harness.project])
            #expect(result.status == 0, "git \(arguments): \(result.stderr)")
        }
        git(["init", "-q"])
        git(["add", "lockfiles/t.lock.json"])
        git(["commit", "-q", "-m", "lock"])
        #expect(harness.strata(["lock", "t", "--update", "make", "--mirror", DebianFixture.shared.url + "/next"]).status == 0)
        let expected = """
        release     strata Thu, 01 Jan 2026 00:00:00 UTC → strata Fri, 02 Jan 2026 00:00:00 UTC
        added       libgc1 1:8.2.2-3
        upgraded    make 4.3-4.1 → 4.4.1-2

        """
        let bare = harness.strata(["lock", "diff", "HEAD", "lockfiles/t.lock.json"], env: ["HOME": harness.project])
        #expect(bare.status == 0 && bare.stdout == expected, "\(bare.stdout) \(bare.stderr)")
        let qualified = harness.strata(["lock", "diff", "HEAD:lockfiles/t.lock.json", "lockfiles/t.lock.json"],
                                       env: ["HOME": harness.project])
        #expect(qualified.status == 0 && qualified.stdout == expected, "\(qualified.stdout) \(qualified.stderr)")
        let missing = harness.strata(["lock", "diff", "nosuchrev", "lockfiles/t.lock.json"], env: ["HOME": harness.project])
        #expect(missing.status != 0, "\(missing.stdout)")
        #expect(missing.stderr.contains("nosuchrev"), "\(missing.stderr)")
    }

    // MARK: manifest errors

    static let manifestErrors: [(name: String, text: String, expected: String)] = [
        ("no-debian-base", """
        {
          "from": {"image": "oci:../images/busybox:latest"},
          "packages": ["tool"]
        }
        """, "envs/no-debian-base.json:3:15: packages: needs a Debian base"),
        ("recommends-without-base", """
        {"recommends": true}
        """, "envs/recommends-without-base.json:1:16: recommends: needs a Debian base"),
        ("bad-variant", """
        {"from": {"debian": {"suite": "testing", "variant": "full"}}}
        """, "envs/bad-variant.json:1:53: from.debian.variant: \"full\" is not a variant"),
        ("bad-request", """
        {"from": {"debian": {"suite": "testing"}},
         "packages": ["tool", "Tool!"]}
        """, "envs/bad-request.json:2:23: packages[1]: \"Tool!\" is not a package request"),
        ("unknown-debian-field", """
        {"from": {"debian": {"suite": "testing", "mirrors": ["http://127.0.0.1:1"]}}}
        """, "envs/unknown-debian-field.json:1:53: from.debian.mirrors: unknown field \"mirrors\""),
        ("no-suite", """
        {"from": {"debian": {"variant": "minbase"}}}
        """, "envs/no-suite.json:1:21: from.debian: has no \"suite\""),
        ("bad-mirror", """
        {"from": {"debian": {"suite": "testing", "mirror": ["http://127.0.0.1:1", "ftp://x"]}}}
        """, "envs/bad-mirror.json:1:75: from.debian.mirror[1]: \"ftp://x\" is not a mirror URL"),
        ("twice", """
        {"from": {"debian": {"suite": "testing"}}, "packages": ["tool", "tool"]}
        """, "envs/twice.json:1:65: packages[1]: \"tool\" is listed twice"),
    ]

    @Test(arguments: 0..<manifestErrors.count)
    func manifestErrorIsLocated(_ index: Int) throws {
        let item = Self.manifestErrors[index]
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest(item.name, item.text)
        let result = harness.strata(["lock", item.name])
        #expect(result.status == 2, "\(item.name): \(result.stderr)")
        #expect(result.stderr.contains(item.expected), "\(item.name): got \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!harness.lockfileExists(item.name))
    }
}

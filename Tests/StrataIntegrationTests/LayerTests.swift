import Foundation
import Testing

/// Makes a tarball in the project with Python's tarfile: `entries` is Python code
/// calling `add(name, kind, data=b"", link="")` with kind one of "file", "dir",
/// "symlink", "hardlink", "chr", "blk".
func makeTar(_ harness: Harness, _ relative: String, _ entries: String) throws {
    let script = """
    import io, sys, tarfile
    tar = tarfile.open(sys.argv[1], "w:gz" if sys.argv[1].endswith(".gz") else "w")
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}
    def add(name, kind, data=b"", link="", mode=None):
        info = tarfile.TarInfo(name)
        info.type = kinds[kind]
        info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
        info.linkname = link
        info.size = len(data) if kind == "file" else 0
        if kind in ("chr", "blk"):
            info.devmajor, info.devminor = 8, 0
        tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
    \(entries)
    tar.close()
    """
    let path = harness.project + "/" + relative
    try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                            withIntermediateDirectories: true)
    let result = Harness.exec(["/usr/bin/python3", "-c", script, path], cwd: "/", env: [:])
    #expect(result.status == 0, "python: \(result.stderr)")
}

@Suite struct LayerTests {
    @Test func whiteoutsAndOpaqueDirectoriesHideLowerFiles() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try makeTar(harness, "lower.tar", """
        add("a", "dir"); add("a/gone", "file", b"1"); add("a/kept", "file", b"2")
        add("b", "dir"); add("b/old", "file", b"3")
        """)
        try makeTar(harness, "upper.tar.gz", """
        add("a/.wh.gone", "file"); add("b/.wh..wh..opq", "file"); add("b/new", "file", b"4")
        """)
        try harness.manifest("wh", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"tar": "../lower.tar"}, {"tar": "../upper.tar.gz"}]}
        """)
        let result = harness.strata(["run", "wh", "--", "sh", "-c", "ls -A /a; echo --; ls -A /b"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "kept\n--\nnew\n", "\(result.stdout)")
    }

    static let malicious: [(name: String, entries: String, mentions: String)] = [
        ("dotdot", #"add("../escaped", "file", b"x")"#, "../escaped"),
        ("nested-dotdot", #"add("a", "dir"); add("a/../../escaped", "file", b"x")"#, "escaped"),
        ("symlink-write", #"add("link", "symlink", link="/tmp"); add("link/escaped", "file", b"x")"#, "link/escaped"),
        ("symlink-chain", #"add("l1", "symlink", link="l2"); add("l2", "symlink", link="../../.."); add("l1/escaped", "file", b"x")"#, "l1/escaped"),
        ("hardlink-out", #"add("h", "hardlink", link="../../../../etc/passwd")"#, "h"),
    ]

    @Test(arguments: 0..<malicious.count)
    func maliciousTarballsAreRefused(_ index: Int) throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let item = Self.malicious[index]
        try makeTar(harness, "evil/evil.tar", item.entries)
        try harness.manifest("evil", #"{"steps": [{"tar": "../evil/evil.tar"}]}"#)
        let result = harness.strata(["build", "evil"])
        #expect(result.status == 1, "\(item.name): \(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains(item.mentions), "\(item.name): \(result.stderr)")
        let base = URL(fileURLWithPath: harness.project).deletingLastPathComponent().path
        for place in ["/tmp/escaped", harness.project + "/escaped", base + "/escaped", harness.store + "/escaped",
                      harness.store + "/layers/escaped", harness.project + "/evil/escaped"] {
            #expect(!FileManager.default.fileExists(atPath: place), "\(item.name) wrote \(place)")
        }
        let layers = (try? FileManager.default.contentsOfDirectory(atPath: harness.store + "/layers")) ?? []
        #expect(layers.isEmpty, "\(item.name): nothing published: \(layers)")
    }

    @Test func absoluteNamesLandInsideAndDevicesAreDropped() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try makeTar(harness, "abs.tar", """
        add("/etc", "dir"); add("/etc/inside", "file", b"ok"); add("disk", "blk"); add("tty0", "chr")
        """)
        try harness.manifest("abs", #"{"from": {"image": "oci:../images/busybox:latest"}, "steps": [{"tar": "../abs.tar"}]}"#)
        let result = harness.strata(["run", "abs", "--", "sh", "-c", "cat /etc/inside; ls /disk /tty0 2>&1 | wc -l"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("ok"), "\(result.stdout)")
        #expect(result.stderr.contains("disk"), "a warning names the dropped device: \(result.stderr)")
    }

    @Test func hundredLayerSnapshot() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        var steps: [String] = []
        for n in 0..<100 {
            try harness.write("stack/\(n)/n\(n)", "\(n)\n")
            try harness.write("stack/\(n)/top", "\(n)\n")
            steps.append(#"{"copy": {"from": "../stack/\#(n)", "to": "/stack"}}"#)
        }
        try harness.manifest("deep", #"{"from": {"image": "oci:../images/busybox:latest"}, "steps": [\#(steps.joined(separator: ","))]}"#)
        let result = harness.strata(["run", "deep", "--", "sh", "-c", "cat /stack/top; ls /stack | wc -l"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.replacingOccurrences(of: " ", with: "") == "99\n101\n", "\(result.stdout)")
    }

    /// A build killed in the middle of unpacking a layer (stopped once half its files are
    /// written) publishes nothing of it; the next build unpacks it whole.
    @Test func killedBuildLeavesNothingHalfPublished() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try makeTar(harness, "many.tar", """
        add("many", "dir")
        for i in range(30000):
            add("many/f%05d" % i, "file", b"x" * 64)
        """)
        try harness.manifest("many", #"{"from": {"image": "oci:../images/busybox:latest"}, "steps": [{"tar": "../many.tar"}]}"#)
        #expect(harness.strata(["lock", "many"]).status == 0)
        #expect(harness.strata(["build", "many"]).status == 0)  // warm the busybox layer
        // Remove the big layer so the next build must unpack it again, then kill it midway.
        let lock = try harness.read("lockfiles/many.lock.json")
        let json = try JSONSerialization.jsonObject(with: Data(lock.utf8)) as! [String: Any]
        let diffID = ((json["layers"] as! [[String: Any]]).last!["diffID"] as! String).dropFirst(7)
        let layer = harness.store + "/layers/\(diffID)"
        _ = Harness.exec(["/bin/rm", "-rf", layer, harness.store + "/snapshots"], cwd: "/", env: [:])
        let build = try harness.start(["build", "many"])
        let halfway = harness.store + "/tmp/layer-\(diffID)/many/f15000"
        var publishedWhenStopped = true
        let killed = Harness.kill(build, when: { FileManager.default.fileExists(atPath: halfway) },
                                  whileStopped: { publishedWhenStopped = FileManager.default.fileExists(atPath: layer) })
        #expect(killed, "the build ended before it had unpacked half of the layer")
        #expect(!publishedWhenStopped, "a layer half unpacked is not published")
        #expect(!FileManager.default.fileExists(atPath: layer), "nothing of it was published")
        let result = harness.strata(["run", "many", "--", "sh", "-c", "ls /many | wc -l"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "30000")
    }

    @Test func parallelRunsOnAnEmptyStore() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.write("files/hello", "hi\n")
        try harness.manifest("par", """
        {"from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"copy": {"from": "../files", "to": "/files"}}, {"tar": "../images/busybox-rootfs.tar.gz"}]}
        """)
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            results.append(harness.strata(["run", "par", "--", "cat", "/files/hello"]))
        }
        for result in results.all {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "hi\n")
        }
        #expect(results.all.count == 8)
    }
}

final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Harness.Result] = []
    func append(_ item: Harness.Result) { lock.lock(); items.append(item); lock.unlock() }
    var all: [Harness.Result] { lock.lock(); defer { lock.unlock() }; return items }
}

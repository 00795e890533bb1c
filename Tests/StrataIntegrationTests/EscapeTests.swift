import Foundation
import Testing

/// The escape-and-privilege table of `scripts/escape/probe.c`, run inside a session:
/// everything a session confined like a Docker container must not do is denied, and
/// the host is left as it was.
@Suite struct EscapeTests {
    /// Every row the probe prints; one missing means the probe died before it.
    static let rows = [
        "mount", "umount2", "unshare-user", "unshare-mnt", "clone-newuser", "keyring", "reboot", "kexec_load",
        "init_module", "open_by_handle_at", "ptrace-host", "sysrq-trigger", "kcore", "mknod-block", "sys-write",
        "sethostname", "chroot-escape", "setns", "rlimit-nofile", "bpf", "perf_event_open", "userfaultfd",
        "personality", "acct", "settime", "swapon", "iopl", "tiocsti",
    ]

    struct Row {
        var name: String
        var verdict: String
        var what: String
        var expected: String
    }

    static func table(_ output: String) -> [Row] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return fields.count == 4 ? Row(name: fields[0], verdict: fields[1], what: fields[2], expected: fields[3]) : nil
        }
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The compiler the probe needs; scripts/setup installs gcc and libc6-dev.
    static func compiler() -> String? {
        ["/usr/local/bin/cc", "/usr/bin/cc", "/bin/cc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// As root, and rootless (a user made by the test, as root of their own namespace inside).
    @Test(arguments: [false, true]) func everyEscapeIsDenied(rootless: Bool) throws {
        guard let cc = Self.compiler() else {
            Issue.record("cc is missing: the escape probe is C built with `cc -static`; install gcc and libc6-dev")
            return
        }
        let harness = try Harness()
        defer { harness.cleanup() }
        let probe = harness.project + "/probe/probe"
        try FileManager.default.createDirectory(atPath: harness.project + "/probe", withIntermediateDirectories: true)
        let build = Harness.exec([cc, "-static", "-O2", "-o", probe, Harness.packageRoot + "/scripts/escape/probe.c"],
                                 cwd: "/", env: [:])
        try #require(build.status == 0, "cc -static failed on scripts/escape/probe.c: \(build.stderr)")

        // A host file and a host process outside the session: an escape would see the
        // one, a tracer the other.
        let marker = URL(fileURLWithPath: harness.project).deletingLastPathComponent().path + "/host-marker"
        let markerText = "host marker \(UUID().uuidString)\n"
        try Data(markerText.utf8).write(to: URL(fileURLWithPath: marker))
        let markerDate = try FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date
        let hostProcess = Process()
        hostProcess.executableURL = URL(fileURLWithPath: "/bin/sleep")
        hostProcess.arguments = ["120"]
        try hostProcess.run()
        // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
        defer { kill(hostProcess.processIdentifier, SIGKILL); hostProcess.waitUntilExit() }
        let hostnameBefore = Self.hostname()

        try harness.manifest("escape", """
        {
          "from": {"image": "oci:../images/busybox:latest"},
          "mounts": [{"type": "bind", "source": "../probe", "target": "/probe", "readonly": true}]
        }
        """)
        let probeArguments = ["run", "-u", "0", "escape", "--", "/probe/probe",
                              "--host-pid", "\(hostProcess.processIdentifier)", "--host-marker", marker]
        let result: Harness.Result
        if rootless {
            guard RootlessUser.available && RootlessUser.helpersInstalled else {
                Issue.record("useradd, setpriv or a setuid newuidmap is missing (scripts/setup installs them)")
                return
            }
            let user = try RootlessUser(subordinateRange: true)
            defer { user.remove() }
            user.own(harness)
            result = user.strata(probeArguments, in: harness.project)
        } else {
            result = harness.strata(probeArguments)
        }
        let table = Self.table(result.stdout)
        #expect(table.map(\.name) == Self.rows, "the probe printed other rows than expected: \(result.stdout)\(result.stderr)")
        for row in table {
            #expect(row.verdict != "FAIL", "\(row.name): \(row.what) (expected \(row.expected))")
        }
        let failed = table.contains { $0.verdict == "FAIL" }
        #expect(result.status == (failed ? 1 : 0), "probe exit status \(result.status): \(result.stderr)")

        #expect(Self.hostname() == hostnameBefore, "the session changed the host's hostname")
        #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == markerText, "the host marker file changed")
        #expect((try FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date) == markerDate,
                "the host marker file was touched")
        #expect(hostProcess.isRunning, "the host process outside the session was disturbed")
    }
}

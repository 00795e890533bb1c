import Foundation
import Testing
import StrataHostTestSupport

/// The manifest's `security`, `user` and `limits` through the real CLI, on the busybox image
/// (whose /etc/passwd has root and nobody).
@Suite struct SecurityTests {
    func environment(_ fields: String) throws -> Harness {
        let harness = try Harness()
        try harness.manifest("bb", """
        {"from": {"image": "oci:../images/busybox:latest"}\(fields.isEmpty ? "" : ",\n " + fields)}
        """)
        return harness
    }

    func status(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    @Test func defaultsAreDockersConfinement() throws {
        let harness = try environment("")
        defer { harness.cleanup() }
        let run = harness.strata(["run", "bb", "--", "cat", "/proc/self/status"])
        #expect(run.status == 0, "\(run.stderr)")
        let fields = status(run.stdout)
        #expect(fields["CapBnd"] == "00000000a80425fb")
        #expect(fields["CapEff"] == "00000000a80425fb")
        #expect(fields["CapInh"] == "0000000000000000")
        #expect(fields["CapAmb"] == "0000000000000000")
        #expect(fields["NoNewPrivs"] == "1")
        #expect(fields["Seccomp"] == "2")
        // The filter answers what the capabilities would not: sethostname needs CAP_SYS_ADMIN
        // and is refused either way; clone3 is ENOSYS so libc falls back to clone.
        let denied = harness.strata(["run", "bb", "--", "sh", "-c", "hostname other; echo rc=$?; hostname"])
        #expect(denied.stdout == "rc=1\nstrata\n", "\(denied.stdout) \(denied.stderr)")
        // Only 0-2 (and ls's own handle, 3) reach the command.
        let fds = harness.strata(["run", "bb", "--", "ls", "/proc/self/fd"])
        #expect(fds.stdout == "0\n1\n2\n3\n", "\(fds.stdout)")
        // The compiled program is kept: the second run reads it.
        let cached = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/cache/seccomp")
        #expect(cached.count == 1)
    }

    @Test func securityLoosensDeliberately() throws {
        let harness = try environment("""
        "security": {"capabilities": {"add": ["NET_ADMIN", "cap_sys_ptrace"], "drop": ["CHOWN"]},
                      "seccomp": "unconfined", "noNewPrivileges": false, "readonlyRoot": true}
        """)
        defer { harness.cleanup() }
        let run = harness.strata(["run", "bb", "--", "sh", "-c", "cat /proc/self/status; touch /x 2>&1; touch /tmp/y && echo tmp-ok"])
        #expect(run.status == 0, "\(run.stderr)")
        let fields = status(run.stdout)
        let expected = (UInt64(0xa80425fb) | (1 << 12) | (1 << 19)) & ~UInt64(1)
        #expect(UInt64(fields["CapEff"] ?? "", radix: 16) == expected)
        #expect(fields["NoNewPrivs"] == "0")
        #expect(fields["Seccomp"] == "0")
        #expect(run.stdout.contains("Read-only file system"))
        #expect(run.stdout.contains("tmp-ok"))
    }

    @Test func customSeccompProfile() throws {
        // Docker's format: everything allowed except mkdir(at), which fails with EACCES (13).
        let harness = try environment(#""security": {"seccomp": "../profiles/no-mkdir.json"}"#)
        defer { harness.cleanup() }
        try harness.write("profiles/no-mkdir.json", """
        {"defaultAction": "SCMP_ACT_ALLOW",
         "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
        """)
        let run = harness.strata(["run", "bb", "--", "sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?; touch /tmp/f && echo touched"])
        #expect(run.stdout.contains("Permission denied"), "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("rc=1"))
        #expect(run.stdout.contains("touched"))

        try harness.write("profiles/no-mkdir.json", #"{"defaultAction": "SCMP_ACT_ALOW"}"#)
        let bad = harness.strata(["run", "bb", "--", "true"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("no-mkdir.json"), "\(bad.stderr)")
        #expect(bad.stderr.contains("SCMP_ACT_ALOW"), "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
        #expect(bad.stderr.components(separatedBy: "no-mkdir.json").count == 2, "the file is named once: \(bad.stderr)")

        try? FileManager.default.removeItem(atPath: harness.project + "/profiles/no-mkdir.json")
        let missing = harness.strata(["run", "bb", "--", "true"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("seccomp profile"), "\(missing.stderr)")
    }

    /// Without no_new_privs the filter goes in before the capabilities are dropped: a profile
    /// that forbids capset stops the session with a sentence pointing at the manifest.
    @Test func aProfileThatForbidsTheSetupIsNamed() throws {
        let harness = try environment(#""security": {"seccomp": "../profiles/no-capset.json", "noNewPrivileges": false}"#)
        defer { harness.cleanup() }
        try harness.write("profiles/no-capset.json", #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["capset"], "action": "SCMP_ACT_ERRNO"}]}"#)
        let run = harness.strata(["run", "bb", "--", "true"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("drop capabilities: Operation not permitted"), "\(run.stderr)")
        #expect(run.stderr.contains("\"security\""), "\(run.stderr)")
    }

    @Test func userIsResolvedInTheEnvironment() throws {
        let harness = try environment(#""user": "nobody""#)
        defer { harness.cleanup() }
        let run = harness.strata(["run", "bb", "--", "sh", "-c", "id; echo HOME=$HOME USER=$USER; grep CapEff /proc/self/status"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("uid=65534(nobody) gid=65534(nogroup)"), "\(run.stdout)")
        #expect(run.stdout.contains("HOME=/ USER=nobody"), "\(run.stdout)")
        #expect(run.stdout.contains("0000000000000000"), "\(run.stdout)")

        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "user": "1234:nogroup"}"#)
        let numeric = harness.strata(["run", "bb", "--", "id"])
        #expect(numeric.stdout == "uid=1234 gid=65534(nogroup) groups=65534(nogroup)\n" || numeric.stdout.hasPrefix("uid=1234 gid=65534(nogroup)"), "\(numeric.stdout) \(numeric.stderr)")

        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "user": "alice"}"#)
        let unknown = harness.strata(["run", "bb", "--", "id"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("alice"), "\(unknown.stderr)")
    }

    @Test(.sharedHostCgroups) func pidsLimitStopsAForkBomb() throws {
        let harness = try environment(#""limits": {"pids": 20}"#)
        defer { harness.cleanup() }
        // Each sleeper is a process; the fork after the 20th process (init and the shell count) fails.
        let run = harness.strata(["run", "bb", "--", "sh", "-c",
                                  "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo loop-ended"])
        #expect(run.stdout.contains("Resource temporarily unavailable") || run.stderr.contains("Resource temporarily unavailable"),
                "\(run.stdout) \(run.stderr)")
        // busybox sh gives up at the first failed fork (status 2); the sleepers go with the session.
        #expect(!run.stdout.contains("loop-ended"), "\(run.stdout)")
        #expect(leftoverCgroups().isEmpty, "\(leftoverCgroups())")
    }

    @Test func memoryLimitKillsAndSaysSo() throws {
        let harness = try environment(#""limits": {"memory": "32m"}"#)
        defer { harness.cleanup() }
        let run = harness.strata(["run", "bb", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"])
        #expect(run.status == 137, "\(run.stderr)")
        #expect(run.stderr.contains("out of memory"), "\(run.stderr)")
        #expect(run.stderr.contains("32 MiB"), "\(run.stderr)")
        #expect(leftoverCgroups().isEmpty, "\(leftoverCgroups())")
    }

    @Test func nofileLimit() throws {
        let harness = try environment(#""limits": {"nofile": 100}"#)
        defer { harness.cleanup() }
        let run = harness.strata(["run", "bb", "--", "sh", "-c", "ulimit -n; ulimit -n 200 2>&1; echo rc=$?"])
        #expect(run.stdout.hasPrefix("100\n"), "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("rc=1") || run.stdout.contains("rc=2"), "\(run.stdout)")

        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "limits": {"nofile": 1048576}}"#)
        let tooHigh = harness.strata(["run", "bb", "--", "true"])
        #expect(tooHigh.status == 1)
        #expect(tooHigh.stderr.contains("hard limit"), "\(tooHigh.stderr)")
    }

    /// Session cgroups this test process's sessions may have left (none should remain).
    func leftoverCgroups() -> [String] {
        var left: [String] = []
        for hierarchy in ["pids", "memory", "cpu,cpuacct", "unified"] {
            let parent = "/sys/fs/cgroup/\(hierarchy)/strata"
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
            // Other test processes may run sessions at the same time: only count ours.
            left += entries.filter { $0.hasPrefix("session-") && isLeaked($0) }.map { parent + "/" + $0 }
        }
        return left
    }

    func isLeaked(_ name: String) -> Bool {
        // session-PID-N, where PID is a strata started by this test process; strata has exited by now.
        let parts = name.split(separator: "-")
        guard parts.count == 3, let pid = Int32(parts[1]) else { return false }
        return kill(pid, 0) != 0
    }
}

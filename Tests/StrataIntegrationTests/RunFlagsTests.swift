import Foundation
import Testing
import StrataHostTestSupport

/// `docker run`'s everyday flags on `strata run` and `strata shell`: each changes the session
/// as Docker's does, and none changes the lockfile.
@Suite struct RunFlagsTests {
    struct Case: CustomStringConvertible, Sendable {
        var flags: [String]
        var command: String
        /// What the command's stdout (or stderr, for refusals inside) holds.
        var expected: String
        var status: Int32 = 0
        var description: String { flags.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(flags: ["-e", "A=1", "--env", "B=two words"], command: "echo $A $B", expected: "1 two words"),
        Case(flags: ["-e", "FROM_CALLER", "-e", "NOT_SET_ANYWHERE"], command: "echo $FROM_CALLER ${NOT_SET_ANYWHERE-unset}", expected: "caller's unset"),
        Case(flags: ["--env-file", "vars.env"], command: "echo $FILE_A $FROM_CALLER", expected: "a caller's"),
        Case(flags: ["-v", "./data:/data:ro"], command: "cat /data/f; touch /data/g 2>&1", expected: "hostfile\ntouch: /data/g: Read-only file system", status: 1),
        Case(flags: ["-v", "\(Self.absoluteData):/data"], command: "cat /data/f", expected: "hostfile"),
        Case(flags: ["--mount", "type=bind,source=./data,target=/m,readonly"], command: "cat /m/f; touch /m/g 2>&1", expected: "Read-only", status: 1),
        Case(flags: ["--mount", "type=tmpfs,destination=/t", "--tmpfs", "/scratch"], command: "grep -c ' /t tmpfs\\| /scratch tmpfs' /proc/mounts", expected: "2"),
        Case(flags: ["-w", "/tmp"], command: "pwd", expected: "/tmp"),
        Case(flags: ["--workdir=/etc"], command: "pwd", expected: "/etc"),
        Case(flags: ["-u", "1000:1000"], command: "id", expected: "uid=1000 gid=1000"),
        Case(flags: ["--user", "nobody"], command: "id -un", expected: "nobody"),
        Case(flags: ["--hostname", "flagged"], command: "hostname", expected: "flagged"),
        Case(flags: ["--network", "host"], command: "[ $(wc -l < /proc/net/dev) -gt 3 ] && echo more-than-loopback", expected: "more-than-loopback"),
        Case(flags: ["--cap-drop", "ALL"], command: "grep CapEff /proc/self/status", expected: "0000000000000000"),
        Case(flags: ["--cap-add", "SYS_ADMIN"], command: "grep CapEff /proc/self/status", expected: "00000000a82425fb"),
        Case(flags: ["--security-opt", "seccomp=unconfined"], command: "grep Seccomp: /proc/self/status", expected: "Seccomp:\t0"),
        Case(flags: ["--read-only"], command: "touch /x 2>&1", expected: "Read-only file system", status: 1),
        Case(flags: ["--memory", "32m"], command: "dd if=/dev/zero of=/dev/null bs=200M count=1", expected: "out of memory", status: 137),
        Case(flags: ["--pids-limit", "20"], command: "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo loop-ended",
             expected: "Resource temporarily unavailable", status: 2),
        Case(flags: ["--cpus", "0.5", "-m", "64m"], command: "echo limited", expected: "limited"),
        Case(flags: ["-t"], command: "tty", expected: "/dev/pts/"),
        Case(flags: ["-it", "-eX=joined"], command: "tty; echo $X", expected: "joined"),
    ]

    static let absoluteData = "/tmp/strata-run-flags-data-\(getpid())"

    @Test(.sharedHostCgroups, arguments: cases) func eachFlagChangesTheSession(_ test: Case) throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "env": {"B": "manifest"}}"#)
        try harness.write("data/f", "hostfile\n")
        try harness.write("vars.env", "# a comment\nFILE_A=a\n\nFROM_CALLER\n")
        try FileManager.default.createDirectory(atPath: Self.absoluteData, withIntermediateDirectories: true)
        try "hostfile\n".write(toFile: Self.absoluteData + "/f", atomically: true, encoding: .utf8)
        #expect(harness.strata(["lock", "bb"]).status == 0)
        let locked = try harness.read("lockfiles/bb.lock.json")
        let run = harness.strata(["run"] + test.flags + ["bb", "--", "sh", "-c", test.command], env: ["FROM_CALLER": "caller's"])
        #expect(run.status == test.status, "\(test): \(run.stdout) \(run.stderr)")
        #expect((run.stdout + run.stderr).contains(test.expected), "\(test): \(run.stdout) \(run.stderr)")
        #expect(try harness.read("lockfiles/bb.lock.json") == locked, "\(test) changed the lockfile")
        #expect(!run.stderr.contains("re-locked"), "\(test): \(run.stderr)")
    }

    @Test func volumesOutliveTheSessionAndRmRemovesANamedOne() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}}"#)
        #expect(harness.strata(["run", "-v", "cache:/cache", "bb", "--", "sh", "-c", "echo kept > /cache/a"]).status == 0)
        let again = harness.strata(["run", "--mount", "type=volume,src=cache,dst=/v", "bb", "--", "cat", "/v/a"])
        #expect(again.stdout == "kept\n", "\(again.stderr)")
        let removed = harness.strata(["run", "--rm", "--name", "gone", "bb", "--", "true"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(!harness.strata(["sessions"]).stdout.contains("gone"), "--rm removes even a named session")
        let shell = harness.strata(["shell", "-e", "IN_SHELL=yes", "-w", "/tmp", "bb"], stdin: "echo $IN_SHELL; pwd\n")
        #expect(shell.stdout == "yes\n/tmp\n", "the shell takes the flags too: \(shell.stdout) \(shell.stderr)")
    }

    @Test func detachedSessionsLogAndStop() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}}"#)
        let counter = harness.strata(["run", "-d", "--name", "counter", "bb", "--", "sh", "-c", "echo one; sleep 0.3; echo two >&2"])
        #expect(counter.status == 0 && counter.stdout == "counter\n", "\(counter.stdout) \(counter.stderr)")
        let followed = harness.strata(["logs", "-f", "counter"])
        #expect(followed.status == 0 && followed.stdout == "one\ntwo\n", "-f follows until the session ends: \(followed.stdout) \(followed.stderr)")
        #expect(harness.strata(["logs", "counter"]).stdout == "one\ntwo\n")

        let long = harness.strata(["run", "-d", "bb", "--", "sh", "-c", "trap 'echo terminated; exit 3' TERM; echo up; while true; do sleep 0.1; done"])
        let name = long.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(long.status == 0 && name.hasPrefix("strata-"), "a name is made when none is given: \(long.stdout) \(long.stderr)")
        #expect(harness.strata(["sessions"]).stdout.contains("running"), "it runs after -d returns")
        let stop = harness.strata(["stop", "-t", "5", name])
        #expect(stop.status == 0 && stop.stdout == name + "\n", "\(stop.stderr)")
        #expect(!harness.strata(["sessions"]).stdout.contains("running"))
        #expect(harness.strata(["logs", name]).stdout.contains("up\n"))
        let again = harness.strata(["stop", name])
        #expect(again.status == 0 && again.stderr.contains("is not running"), "\(again.stderr)")
        #expect(harness.strata(["rm", name]).status == 0)

        #expect(harness.strata(["run", "--name", "plain", "bb", "--", "true"]).status == 0)
        let noLog = harness.strata(["logs", "plain"])
        #expect(noLog.status == 2 && noLog.stderr.contains("keeps no log"), "\(noLog.stderr)")
        let shell = harness.strata(["shell", "-d", "bb"])
        #expect(shell.status == 2 && shell.stderr.contains("interactive"), "\(shell.stderr)")
        let failing = harness.strata(["run", "-d", "bb", "--", "/no/such/command"])
        #expect(failing.status != 0 || failing.stdout.hasPrefix("strata-"), "\(failing.stdout) \(failing.stderr)")
    }

    @Test func execTakesEnvWorkdirUserAndTty() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "env": {"KEPT": "manifest"}}"#)
        let started = harness.strata(["run", "-d", "--name", "bg", "bb", "--", "sleep", "60"])
        #expect(started.status == 0, "\(started.stderr)")
        let exec = harness.strata(["exec", "-e", "A=1", "-e", "FROM_CALLER", "-w", "/tmp", "-u", "nobody", "bg", "--",
                                   "sh", "-c", "echo $A $FROM_CALLER $KEPT; pwd; id -un"], env: ["FROM_CALLER": "caller"])
        #expect(exec.status == 0 && exec.stdout == "1 caller manifest\n/tmp\nnobody\n", "\(exec.stdout) \(exec.stderr)")
        let tty = harness.strata(["exec", "-it", "bg", "--", "tty"])
        #expect(tty.stdout.hasPrefix("/dev/pts/"), "\(tty.stdout) \(tty.stderr)")
        let bad = harness.strata(["exec", "-u", "a:b:c", "bg", "--", "true"])
        #expect(bad.status == 2 && bad.stderr.contains("-u a:b:c:"), "\(bad.stderr)")
        #expect(harness.strata(["stop", "-t", "1", "bg"]).status == 0)
    }

    @Test func aBadFlagIsOneSentence() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}}"#)
        for (flags, said) in [
            (["--memory", "5x"], "--memory 5x: \"5x\" is not a size"),
            (["-v", "nowhere"], "-v nowhere: give SOURCE:TARGET"),
            (["-v", "./data:relative"], "-v ./data:relative: \"relative\" is a relative path"),
            (["--security-opt", "apparmor=x"], "--security-opt apparmor=x is not one strata takes"),
            (["--cap-add", "NOT_A_CAP"], "--cap-add: \"NOT_A_CAP\""),
            (["-u", "a:b:c"], "-u a:b:c:"),
            (["--network", "bridge"], "--network bridge: \"bridge\" is not a network mode"),
            (["-x"], "strata run has no option -x"),
            (["--env-file", "missing.env"], "--env-file missing.env:"),
        ] {
            let run = harness.strata(["run"] + flags + ["bb", "--", "true"])
            #expect(run.status == 2 && run.stderr.contains(said), "\(flags): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "one sentence: \(run.stderr)")
        }
        let missing = harness.strata(["run", "-v", harness.project + "/absent:/data", "bb", "--", "true"])
        #expect(missing.status == 1 && missing.stderr.contains("bind mount source for /data does not exist")
                && missing.stderr.contains("-v/--mount flag"), "\(missing.stderr)")
    }
}

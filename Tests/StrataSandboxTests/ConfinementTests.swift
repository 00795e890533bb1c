import Foundation
import Glibc
import StrataSandbox
import Testing
import StrataHostTestSupport

/// What the command may do: capabilities, user, no_new_privs, read-only and nodev
/// roots, rlimits, and a session of its own. (Signals sent to strata are tested
/// through the CLI, in a process of their own: a signal to this test process would
/// reach every session the other tests run at the same time.)
@Suite("Confinement")
struct ConfinementTests {
    /// The `Cap*:` and `NoNewPrivs:` lines of /proc/self/status, as the command saw them.
    static func status(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    @Test("root keeps exactly Docker's 14 capabilities; inheritable and ambient are empty; no_new_privs is set")
    func dockerCapabilities() throws {
        let fixture = try SessionFixture()
        #expect(try fixture.sh("cat /proc/self/status > /out/status") == .exited(0))
        let status = Self.status(fixture.output("status"))
        let docker = String(Confinement.dockerCapabilities, radix: 16)
        let padded = String(repeating: "0", count: 16 - docker.count) + docker
        #expect(padded == "00000000a80425fb")
        #expect(status["CapBnd"] == padded)
        #expect(status["CapPrm"] == padded)
        #expect(status["CapEff"] == padded)
        #expect(status["CapInh"] == "0000000000000000")
        #expect(status["CapAmb"] == "0000000000000000")
        #expect(status["NoNewPrivs"] == "1")
    }

    @Test("capabilities added and dropped, and no_new_privs off, as asked")
    func loosened() throws {
        let fixture = try SessionFixture()
        var spec = fixture.spec(["sh", "-c", "cat /proc/self/status > /out/status"])
        let netAdmin: UInt64 = 1 << 12, chown: UInt64 = 1 << 0
        spec.confinement = Confinement(capabilities: (Confinement.dockerCapabilities | netAdmin) & ~chown, noNewPrivileges: false)
        #expect(try Sandbox.run(spec) == .exited(0))
        let status = Self.status(fixture.output("status"))
        let expected = UInt64(status["CapEff"] ?? "", radix: 16)
        #expect(expected == (Confinement.dockerCapabilities | netAdmin) & ~chown)
        #expect(status["NoNewPrivs"] == "0")
    }

    @Test("a user runs with its uid, gid and groups, and no capabilities in effect")
    func user() throws {
        let fixture = try SessionFixture()
        chmod(fixture.out, 0o777)
        var spec = fixture.spec(["sh", "-c", "id > /out/id; cat /proc/self/status > /out/status; touch /etc/x 2> /out/touch; echo $? >> /out/touch"])
        spec.user = SessionUser(uid: 1000, gid: 1001, groups: [27, 100])
        #expect(try Sandbox.run(spec) == .exited(0))
        #expect(fixture.output("id") == "uid=1000 gid=1001 groups=27,100\n")
        let status = Self.status(fixture.output("status"))
        #expect(status["CapEff"] == "0000000000000000")
        #expect(status["CapPrm"] == "0000000000000000")
        #expect(status["CapBnd"] == "00000000a80425fb")
        #expect(fixture.output("touch").hasSuffix("1\n"))
    }

    @Test("a read-only root refuses writes with EROFS while /tmp and mounts stay writable")
    func readonlyRoot() throws {
        let fixture = try SessionFixture()
        var spec = fixture.spec(["sh", "-c", "touch /etc/new 2> /out/err; echo $? > /out/rc; touch /tmp/ok && touch /out/ok"])
        spec.confinement.readonlyRoot = true
        #expect(try Sandbox.run(spec) == .exited(0))
        #expect(fixture.output("rc") == "1\n")
        #expect(fixture.output("err").contains("Read-only file system"))
        #expect(FileManager.default.fileExists(atPath: fixture.out + "/ok"))
    }

    @Test("a block device made in the root cannot be opened: the root is nodev")
    func nodevRoot() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("mknod /blk b 8 0 && echo made > /out/made; head -c 1 /blk 2> /out/err; echo $? > /out/rc")
        #expect(exit == .exited(0))
        #expect(fixture.output("made") == "made\n")
        #expect(fixture.output("rc") != "0\n")
        #expect(fixture.output("err").contains("Permission denied"))
    }

    @Test("nofile is the command's soft and hard limit, and it cannot raise it")
    func nofile() throws {
        let fixture = try SessionFixture()
        var spec = fixture.spec(["sh", "-c", "ulimit -n > /out/soft; ulimit -H -n > /out/hard; ulimit -n 512 2> /out/err; echo $? > /out/rc"])
        spec.nofile = 256
        #expect(try Sandbox.run(spec) == .exited(0))
        #expect(fixture.output("soft") == "256\n")
        #expect(fixture.output("hard") == "256\n")
        #expect(fixture.output("rc") != "0\n")
    }

    @Test("the command leads a session of its own: the outer terminal is not its controlling terminal")
    func ownSession() throws {
        let fixture = try SessionFixture()
        #expect(try fixture.sh("echo $$ > /out/pid; cat /proc/self/stat > /out/stat") == .exited(0))
        // Fields after the command name: state ppid pgrp session tty_nr.
        let stat = fixture.output("stat")
        let after = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        #expect(after[3] == after[2])  // session == process group (a leader's)
        #expect(after[4] == "0")       // no controlling terminal
    }

    @Test("a session cgroup a killed strata left behind is removed by the next session with limits", .sharedHostCgroups)
    func abandonedCgroups() throws {
        // A pid that is certainly gone: a child that has exited and been reaped.
        var child: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(argv[0]) }
        #expect(posix_spawn(&child, "/bin/true", nil, nil, &argv, nil) == 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let abandoned = try SessionCgroup.create(name: "session-\(child)-1", limits: ResourceLimits(pids: 64))
        #expect(!abandoned.directories.isEmpty)

        let fixture = try SessionFixture()
        var spec = fixture.spec(["true"])
        spec.limits = ResourceLimits(pids: 64)
        #expect(try Sandbox.run(spec) == .exited(0))
        for directory in abandoned.directories {
            #expect(access(directory, F_OK) != 0, "\(directory) is still there")
        }
        abandoned.remove()
    }
}

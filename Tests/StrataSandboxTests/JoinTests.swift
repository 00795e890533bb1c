import Foundation
import Glibc
import Synchronization
@testable import StrataSandbox
import Testing
import StrataHostTestSupport

/// A session whose first command runs on a thread of its own until `/out/stop`
/// appears, recording its init in the fixture's `init.pid`.
final class BackgroundSession: @unchecked Sendable {
    let fixture: SessionFixture
    let recordPath: String
    private let outcome = Mutex<Result<SessionExit, SandboxError>?>(nil)

    /// `script` runs first; the command then waits for /out/stop.
    init(_ fixture: SessionFixture, script: String, configure: (inout SessionSpec) -> Void = { _ in }) {
        self.fixture = fixture
        recordPath = fixture.base + "/init.pid"
        var spec = fixture.spec(["sh", "-c", script + "; touch /out/up; while [ ! -e /out/stop ]; do sleep 0.02; done"])
        spec.initRecordPath = recordPath
        configure(&spec)
        let thread = Thread { [self, spec] in
            let result: Result<SessionExit, SandboxError>
            do throws(SandboxError) { result = .success(try Sandbox.run(spec)) } catch { result = .failure(error) }
            self.outcome.withLock { $0 = result }
        }
        thread.start()
    }

    /// Waits for the first command to be up and for the record; nil when either never comes.
    func running(seconds: Double = 20) throws -> RunningSession? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: fixture.out + "/up"), let session = try RunningSession.read(recordPath: recordPath) {
                return session
            }
            if outcome.withLock({ $0 != nil }) { return nil }
            usleep(10_000)
        }
        return nil
    }

    /// Lets the first command end and returns how the session ended.
    func stop(seconds: Double = 20) -> Result<SessionExit, SandboxError>? {
        _ = FileManager.default.createFile(atPath: fixture.out + "/stop", contents: nil)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let result = outcome.withLock({ $0 }) { return result }
            usleep(10_000)
        }
        return nil
    }
}

/// A second command in a running session (`strata exec`): the same files,
/// processes, hostname, cgroups and confinement as the first command.
@Suite("Joining a running session")
struct JoinTests {
    func joined(_ fixture: SessionFixture, _ session: RunningSession, _ script: String,
                configure: (inout SessionSpec) -> Void = { _ in }) throws -> SessionExit {
        // Unused by a join: the session has its root already.
        var spec = fixture.spec(["sh", "-c", script])
        configure(&spec)
        return try Sandbox.join(session, spec)
    }

    @Test("a joined command sees the session's files, processes and hostname; the record goes with the session")
    func sameSession() throws {
        let fixture = try SessionFixture()
        let background = BackgroundSession(fixture, script: "echo written-first > /tmp/shared; echo upper > /etc/upper; hostname > /out/first-host") {
            $0.hostname = "joined-host"
        }
        let session = try #require(try background.running())
        #expect(session.cgroupDirectories.isEmpty)
        let exit = try joined(fixture, session, """
            cat /tmp/shared /etc/upper > /out/seen; hostname > /out/host
            ps -o pid,args > /out/ps; echo $$ > /out/pid; readlink /proc/1/exe > /out/init 2>&1; echo $? >> /out/init; true
            """)
        #expect(exit == .exited(0))
        #expect(fixture.output("seen") == "written-first\nupper\n")
        #expect(fixture.output("host") == "joined-host\n")
        // The first command's shell loop, seen from the joined one: one PID namespace.
        #expect(fixture.output("ps").contains("while [ ! -e /out/stop ]"))
        let pid = Int(fixture.output("pid").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(pid > 1 && pid < 1000, "pid \(pid) is not from the session's PID namespace")
        // The session's init is no more open to a joined command than to the first one.
        #expect(fixture.output("init").hasSuffix("1\n"), "\(fixture.output("init"))")
        #expect(try background.stop()?.get() == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: background.recordPath))
        #expect(try RunningSession.read(recordPath: background.recordPath) == nil)
        #expect(!fixture.hostHasMountsUnderBase())
    }

    @Test("exit codes and signals come back as from a first command", arguments: [
        ("exit 0", SessionExit.exited(0)), ("exit 7", .exited(7)), ("kill -USR1 $$", .signaled(SIGUSR1)),
    ])
    func exitStatus(script: String, expected: SessionExit) throws {
        let fixture = try SessionFixture()
        let background = BackgroundSession(fixture, script: "true")
        let session = try #require(try background.running())
        #expect(try joined(fixture, session, script) == expected)
        #expect(try background.stop()?.get() == .exited(0))
    }

    @Test("a joined command gets the first command's capabilities, no_new_privs, seccomp, user, nofile and working directory")
    func sameConfinement() throws {
        let fixture = try SessionFixture()
        chmod(fixture.out, 0o777)
        // A trivial filter that allows everything: enough to show a filter is loaded.
        let allowAll: [UInt8] = [0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f]
        func confine(_ spec: inout SessionSpec) {
            spec.confinement = Confinement(capabilities: Confinement.dockerCapabilities & ~(1 << 0), seccompProgram: allowAll)
            spec.user = SessionUser(uid: 1000, gid: 1001, groups: [27])
            spec.nofile = 512
            spec.workingDirectory = "/work/here"
        }
        let report = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; id; ulimit -n; pwd"
        let background = BackgroundSession(fixture, script: "(\(report)) > /out/first", configure: confine)
        let session = try #require(try background.running())
        #expect(try joined(fixture, session, "(\(report)) > /out/joined", configure: confine) == .exited(0))
        let first = fixture.output("first")
        #expect(first.contains("Seccomp:\t2"))
        #expect(first.contains("NoNewPrivs:\t1"))
        #expect(first.contains("uid=1000 gid=1001 groups=27"))
        #expect(first.contains("512\n/work/here\n"))
        #expect(fixture.output("joined") == first)
        #expect(try background.stop()?.get() == .exited(0))
    }

    @Test("a joined command is in the session's cgroups, so its limits cover it", .sharedHostCgroups)
    func sameCgroups() throws {
        let fixture = try SessionFixture()
        let background = BackgroundSession(fixture, script: "cat /proc/self/cgroup > /out/first") {
            $0.limits = ResourceLimits(pids: 50)
        }
        let session = try #require(try background.running())
        #expect(!session.cgroupDirectories.isEmpty)
        #expect(try joined(fixture, session, "cat /proc/self/cgroup > /out/joined") == .exited(0))
        #expect(fixture.output("joined") == fixture.output("first"))
        #expect(try background.stop()?.get() == .exited(0))
    }

    @Test("two commands join at once")
    func twoAtOnce() throws {
        let fixture = try SessionFixture()
        let background = BackgroundSession(fixture, script: "true")
        let session = try #require(try background.running())
        let results = Mutex<[Int: SessionExit]>([:])
        let threads = (0..<2).map { index in
            let spec = fixture.spec(["sh", "-c", "sleep 0.3; echo \(index) > /out/joined-\(index); exit \(index + 3)"])
            return Thread {
                if let exit = try? Sandbox.join(session, spec) { results.withLock { $0[index] = exit } }
            }
        }
        let started = Date()
        for thread in threads { thread.start() }
        while results.withLock({ $0.count }) < 2 && Date().timeIntervalSince(started) < 20 { usleep(10_000) }
        #expect(results.withLock { $0 } == [0: .exited(3), 1: .exited(4)])
        #expect(Date().timeIntervalSince(started) < 0.6 + 5, "the joins did not overlap")
        #expect(fixture.output("joined-0") == "0\n")
        #expect(fixture.output("joined-1") == "1\n")
        #expect(try background.stop()?.get() == .exited(0))
    }

    @Test("a command still running when the session ends is killed with it")
    func endsWithTheSession() throws {
        let fixture = try SessionFixture()
        let background = BackgroundSession(fixture, script: "true")
        let session = try #require(try background.running())
        let exit = Mutex<SessionExit?>(nil)
        let spec = fixture.spec(["sh", "-c", "touch /out/joined-up; sleep 60"])
        let thread = Thread {
            if let result = try? Sandbox.join(session, spec) { exit.withLock { $0 = result } }
        }
        thread.start()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: fixture.out + "/joined-up") && Date() < deadline { usleep(10_000) }
        #expect(try background.stop()?.get() == .exited(0))
        while exit.withLock({ $0 }) == nil && Date() < deadline { usleep(10_000) }
        #expect(exit.withLock { $0 } == .signaled(SIGKILL))
    }

    @Test("a stopped session, a stale record and a missing command are refused with a sentence")
    func refused() throws {
        let fixture = try SessionFixture()
        // A record naming this test process with another start time: a recycled pid.
        try fixture.write(fixture.base + "/stale.pid", "pid=\(getpid())\nstart=1\n")
        #expect(try RunningSession.read(recordPath: fixture.base + "/stale.pid") == nil)
        #expect(try RunningSession.read(recordPath: fixture.base + "/missing.pid") == nil)
        try fixture.write(fixture.base + "/bad.pid", "hello\n")
        #expect(throws: SandboxError.self) { try RunningSession.read(recordPath: fixture.base + "/bad.pid") }

        let stale = RunningSession(initPID: getpid(), startTime: 1, cgroupDirectories: [])
        #expect(throws: SandboxError.setup(step: "join the session", path: "init pid \(getpid())", reason: "the session has stopped")) {
            try Sandbox.join(stale, fixture.spec(["true"]))
        }

        let background = BackgroundSession(fixture, script: "true")
        let session = try #require(try background.running())
        #expect(throws: SandboxError.exec(path: "/no/such/tool", reason: "No such file or directory")) {
            try Sandbox.join(session, fixture.spec(["/no/such/tool"]))
        }
        #expect(try background.stop()?.get() == .exited(0))
        #expect(throws: SandboxError.self) { try Sandbox.join(session, fixture.spec(["true"])) }
    }
}

import Foundation
import Glibc
import Synchronization
@testable import StrataSandbox
import Testing

// Serialized: a test below signals this whole process, and the forwarding
// handler sends that signal to every running session.
@Suite("Sandbox sessions", .serialized)
struct SandboxTests {
    @Test("echo writes to the inherited stdout")
    func echoStdout() throws {
        let fixture = try SessionFixture()
        let (exit, text) = try StdoutCapture.run { try Sandbox.run(fixture.spec(["echo", "hello from the session"])) }
        #expect(exit == .exited(0))
        #expect(text.contains("hello from the session\n"))
    }

    @Test("exit codes come back exactly", arguments: [Int32(0), 3, 255])
    func exitCodes(code: Int32) throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("exit \(code)")
        #expect(exit == .exited(code))
        #expect(exit.status == code)
    }

    @Test("a command killed by a signal is reported as signaled")
    func signaled() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("kill -TERM $$")
        #expect(exit == .signaled(15))
        #expect(exit.status == 143)
    }

    @Test("the environment is exactly the spec's, and PATH is searched")
    func environment() throws {
        let fixture = try SessionFixture()
        let env = ["PATH=/usr/bin:/bin", "FOO=bar baz", "EMPTY=", "LANG=C.UTF-8"]
        let (exit, text) = try StdoutCapture.run {
            try Sandbox.run(fixture.spec(["env"], environment: env))
        }
        #expect(exit == .exited(0))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(Set(lines.filter { env.contains($0) }) == Set(env))
        #expect(lines.filter { $0.hasPrefix("PATH=") || $0.hasPrefix("FOO=") }.count == 2)
    }

    @Test("the working directory is entered, and created when missing")
    func workingDirectory() throws {
        let fixture = try SessionFixture()
        let exit = try Sandbox.run(fixture.spec(["sh", "-c", "pwd > /out/pwd"], workingDirectory: "/work/sub"))
        #expect(exit == .exited(0))
        #expect(fixture.output("pwd") == "/work/sub\n")
        #expect(FileManager.default.fileExists(atPath: fixture.upper + "/work/sub"))
    }

    @Test("the hostname is the spec's")
    func hostname() throws {
        let fixture = try SessionFixture()
        let exit = try Sandbox.run(fixture.spec(["sh", "-c", "hostname > /out/host"], hostname: "strata-test"))
        #expect(exit == .exited(0))
        #expect(fixture.output("host") == "strata-test\n")
    }

    @Test("bind mounts: read-write lands on the host, read-only fails with EROFS")
    func bindMounts() throws {
        let fixture = try SessionFixture()
        let rw = fixture.base + "/rw", ro = fixture.base + "/ro"
        try FileManager.default.createDirectory(atPath: rw, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
        try fixture.write(ro + "/given", "from host\n")
        let exit = try fixture.sh("""
            echo written > /data/new || exit 10
            cat /config/given > /out/given || exit 11
            if echo nope 2> /out/err > /config/new; then exit 12; fi
            exit 0
            """, mounts: [
                .bind(source: rw, target: "/data", readOnly: false),
                .bind(source: ro, target: "/deep/er/config", readOnly: true),
                .bind(source: ro, target: "/config", readOnly: true),
            ])
        #expect(exit == .exited(0))
        #expect((try? String(contentsOfFile: rw + "/new", encoding: .utf8)) == "written\n")
        #expect(fixture.output("given") == "from host\n")
        #expect(fixture.output("err").contains("Read-only file system"))
        #expect(!FileManager.default.fileExists(atPath: ro + "/new"))
    }

    @Test("a tmpfs mount is a tmpfs")
    func tmpfsMount() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("grep ' /scratch ' /proc/mounts > /out/mounts && echo x > /scratch/f",
                                  mounts: [.tmpfs(target: "/scratch")])
        #expect(exit == .exited(0))
        #expect(fixture.output("mounts").hasPrefix("tmpfs /scratch tmpfs "))
        #expect(!FileManager.default.fileExists(atPath: fixture.upper + "/scratch/f"))
    }

    @Test("/proc is fresh: the init is PID 1 and the command PID 2")
    func pidNamespace() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("echo $$ > /out/pid; grep PPid /proc/1/status > /out/ppid; ls /proc | grep '^[0-9]' > /out/pids")
        #expect(exit == .exited(0))
        #expect(fixture.output("pid") == "2\n")
        #expect(fixture.output("ppid") == "PPid:\t0\n")
        let pids = fixture.output("pids").split(separator: "\n").compactMap { Int($0) }
        #expect(pids.contains(1) && pids.contains(2) && pids.allSatisfy { $0 < 10 })
    }

    @Test("/dev, /sys and /tmp are the minimal set")
    func devSysTmp() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("""
            ls /dev > /out/dev
            readlink /dev/ptmx > /out/ptmx
            echo x > /dev/null || exit 10
            if touch /sys/x 2>/dev/null; then exit 11; fi
            grep -E ' /(tmp|sys|dev|dev/pts|dev/shm|proc) ' /proc/mounts > /out/mounts
            """)
        #expect(exit == .exited(0))
        let dev = Set(fixture.output("dev").split(separator: "\n").map(String.init))
        #expect(dev == ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm",
                        "fd", "stdin", "stdout", "stderr"])
        #expect(fixture.output("ptmx") == "pts/ptmx\n")
        let mounts = fixture.output("mounts")
        #expect(mounts.contains("sysfs /sys sysfs ro,nosuid,nodev,noexec"))
        #expect(mounts.contains("tmpfs /tmp tmpfs rw,nosuid,nodev"))
        #expect(mounts.contains("devpts /dev/pts devpts"))
        #expect(mounts.contains("proc /proc proc rw,nosuid,nodev,noexec"))
    }

    @Test("Docker's masked paths are hidden and its read-only paths frozen")
    func protectedPaths() throws {
        let fixture = try SessionFixture()
        // Which masked files exist depends on the kernel's config: test those the host has.
        let maskedFiles = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/interrupts"]
            .filter { FileManager.default.fileExists(atPath: $0) }
        let exit = try fixture.sh("""
            for f in \(maskedFiles.joined(separator: " ")); do wc -c < $f; done > /out/masked
            ls -A /proc/acpi /sys/firmware > /out/dirs 2>&1
            if echo x 2> /out/sysctl > /proc/sys/kernel/hostname; then exit 10; fi
            """)
        #expect(exit == .exited(0))
        #expect(!maskedFiles.isEmpty)
        let sizes = fixture.output("masked").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(sizes == Array(repeating: "0", count: maskedFiles.count))
        #expect(!fixture.output("dirs").split(separator: "\n").contains { !$0.hasSuffix(":") && !$0.isEmpty })
        #expect(fixture.output("sysctl").contains("Read-only file system"))
    }

    @Test("an isolated network has only lo, and it is up")
    func network() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("cat /proc/net/dev > /out/netdev; cat /sys/class/net/lo/operstate > /out/lo")
        #expect(exit == .exited(0))
        let interfaces = fixture.output("netdev").split(separator: "\n").dropFirst(2)
            .compactMap { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) }
        #expect(interfaces == ["lo"])
        #expect(fixture.output("lo") == "unknown\n")

        let hostNet = try fixture.sh("cat /proc/net/dev > /out/hostnet", isolateNetwork: false)
        #expect(hostNet == .exited(0))
        let host = (try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8)) ?? ""
        #expect(fixture.output("hostnet").split(separator: "\n").count == host.split(separator: "\n").count)
    }

    @Test("writes and deletes land in the upper dir, never in a lower dir")
    func upperDir() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("echo new > /etc/new && rm /etc/deleteme && echo changed > /etc/modify && mkdir /opt")
        #expect(exit == .exited(0))
        let fm = FileManager.default
        #expect((try? String(contentsOfFile: fixture.upper + "/etc/new", encoding: .utf8)) == "new\n")
        #expect((try? String(contentsOfFile: fixture.upper + "/etc/modify", encoding: .utf8)) == "changed\n")
        var st = stat()
        #expect(lstat(fixture.upper + "/etc/deleteme", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
        #expect(fm.fileExists(atPath: fixture.upper + "/opt"))
        #expect((try? String(contentsOfFile: fixture.rootfs + "/etc/deleteme", encoding: .utf8)) == "lower delete\n")
        #expect((try? String(contentsOfFile: fixture.rootfs + "/etc/modify", encoding: .utf8)) == "lower original\n")
        #expect(!fm.fileExists(atPath: fixture.rootfs + "/etc/new"))
        #expect(!fm.fileExists(atPath: fixture.rootfs + "/opt"))
    }

    @Test("120 lower dirs with long names mount, and the topmost layer wins")
    func manyLayers() throws {
        let fixture = try SessionFixture()
        let fm = FileManager.default
        let padding = String(repeating: "x", count: 60)
        for i in 0..<119 {
            let layer = fixture.base + "/layers/layer-\(padding)-\(String(format: "%03d", i))"
            try fm.createDirectory(atPath: layer + "/stack", withIntermediateDirectories: true)
            try fixture.write(layer + "/stack/top", "layer \(i)\n")
            try fixture.write(layer + "/stack/only-\(i)", "\(i)\n")
            fixture.layers.append(layer)
        }
        #expect(fixture.lowerDirs.count == 120)
        #expect(fixture.lowerDirs.joined(separator: ":").utf8.count > 4096)
        let exit = try fixture.sh("cat /stack/top > /out/top; ls /stack | wc -l > /out/count")
        #expect(exit == .exited(0))
        #expect(fixture.output("top") == "layer 0\n")
        #expect(fixture.output("count").trimmingCharacters(in: .whitespaces) == "120\n")
    }

    @Test("without fsopen: mount(2) when the options fit in a page, a clear refusal when not")
    func legacyOverlay() throws {
        let fixture = try SessionFixture()
        let fm = FileManager.default
        let top = fixture.base + "/layers/top"
        try fm.createDirectory(atPath: top + "/etc", withIntermediateDirectories: true)
        try fixture.write(top + "/etc/keep", "top keep\n")
        fixture.layers = [top]
        let small = fixture.spec(["sh", "-c", "cat /etc/keep > /out/keep"])
        #expect(Sandbox.legacyOverlayOptions(small) != nil)
        #expect(try Sandbox.runSession(small, forceLegacyOverlay: true) == .exited(0))
        #expect(fixture.output("keep") == "top keep\n")

        for i in 0..<119 {
            let layer = fixture.base + "/layers/layer-\(String(repeating: "y", count: 80))-\(i)"
            try fm.createDirectory(atPath: layer, withIntermediateDirectories: true)
            fixture.layers.append(layer)
        }
        let big = fixture.spec(["true"])
        #expect(Sandbox.legacyOverlayOptions(big) == nil)
        let error = #expect(throws: SandboxError.self) {
            try Sandbox.runSession(big, forceLegacyOverlay: true)
        }
        guard case .setup(let step, let path, let reason)? = error else {
            Issue.record("expected a setup error, got \(String(describing: error))")
            return
        }
        #expect(step == "overlay legacy mount" && path == fixture.root)
        #expect(reason.contains("exceed one page"))
        // The same stack mounts fine through fsopen.
        #expect(try Sandbox.run(big) == .exited(0))
    }

    @Test("sessions run concurrently from several threads")
    func concurrent() throws {
        let fixtures = try (0..<6).map { _ in try SessionFixture() }
        let specs = fixtures.enumerated().map { i, fixture in
            fixture.spec(["sh", "-c", "echo \(i) > /out/n; exit \(i)"])
        }
        let results = Mutex([Int32](repeating: -1, count: specs.count))
        DispatchQueue.concurrentPerform(iterations: specs.count) { i in
            let status = (try? Sandbox.run(specs[i]))?.status ?? -1
            results.withLock { $0[i] = status }
        }
        for (i, fixture) in fixtures.enumerated() {
            #expect(results.withLock { $0[i] } == Int32(i))
            #expect(fixture.output("n") == "\(i)\n")
        }
    }

    @Test("a missing command is an exec error with the reason")
    func missingCommand() throws {
        let fixture = try SessionFixture()
        #expect(throws: SandboxError.exec(path: "no-such-command", reason: "No such file or directory")) {
            try Sandbox.run(fixture.spec(["no-such-command"]))
        }
        #expect(throws: SandboxError.exec(path: "/bin/nope", reason: "No such file or directory")) {
            try Sandbox.run(fixture.spec(["/bin/nope", "arg"]))
        }
    }

    @Test("a symlink /proc in the root is refused")
    func symlinkProc() throws {
        let fixture = try SessionFixture()
        try FileManager.default.removeItem(atPath: fixture.rootfs + "/proc")
        try FileManager.default.createSymbolicLink(atPath: fixture.rootfs + "/proc", withDestinationPath: "/etc")
        do {
            _ = try fixture.sh("true")
            Issue.record("a symlink /proc was accepted")
        } catch let error as SandboxError {
            guard case .setup(let step, let path, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(step == "mount point")
            #expect(path == "/proc")
            #expect(reason.contains("symlink"))
        }
        #expect(!fixture.hostHasMountsUnderBase())
    }

    @Test("a mount target through a symlink or onto a file is refused")
    func hostileMountTargets() throws {
        let fixture = try SessionFixture()
        try FileManager.default.createSymbolicLink(atPath: fixture.rootfs + "/escape", withDestinationPath: "/")
        #expect(throws: SandboxError.setup(step: "mount point", path: "/escape/tmp2",
                                           reason: "is a symlink (refusing to follow it inside the session root)")) {
            try fixture.sh("true", mounts: [.tmpfs(target: "/escape/tmp2")])
        }
        #expect(throws: SandboxError.setup(step: "mount point", path: "/etc/keep", reason: "Not a directory")) {
            try fixture.sh("true", mounts: [.tmpfs(target: "/etc/keep")])
        }
        #expect(throws: SandboxError.self) {
            try fixture.sh("true", mounts: [.tmpfs(target: "/a/../b")])
        }
    }

    @Test("orphans are reaped: no zombie is left behind")
    func zombies() throws {
        let fixture = try SessionFixture()
        let exit = try fixture.sh("(sleep 0.05 &); (true &); (sh -c 'exit 0' &); sleep 0.4; cat /proc/[0-9]*/stat > /out/stat")
        #expect(exit == .exited(0))
        let states = fixture.output("stat").split(separator: "\n").compactMap { line -> Substring? in
            guard let close = line.lastIndex(of: ")") else { return nil }
            return line[line.index(after: close)...].split(separator: " ").first
        }
        #expect(!states.isEmpty)
        #expect(!states.contains("Z"))
    }

    @Test("no fd of the parent other than 0-2 reaches the command or its init")
    func noFdLeak() throws {
        let fixture = try SessionFixture()
        let leaky = open("/etc/hostname", O_RDONLY)  // deliberately without O_CLOEXEC
        #expect(dup2(leaky, 200) == 200)
        defer { close(leaky); close(200) }
        let exit = try fixture.sh("ls /proc/1/fd > /out/init-fds; exec > /out/fds; exec ls /proc/self/fd")
        #expect(exit == .exited(0))
        // fd 3 is ls's own handle on /proc/self/fd.
        #expect(fixture.output("fds") == "0\n1\n2\n3\n")
        // The init keeps 0-2 and its report pipe to strata.
        #expect(fixture.output("init-fds").split(separator: "\n").count == 4)
    }

    @Test("nothing stays mounted on the host, and invalid specs are refused")
    func hostClean() throws {
        let fixture = try SessionFixture()
        _ = try fixture.sh("true", mounts: [.tmpfs(target: "/x")])
        #expect(!fixture.hostHasMountsUnderBase())
        var empty = fixture.spec(["true"])
        empty.lowerDirs = []
        #expect(throws: SandboxError.self) { try Sandbox.run(empty) }
        var relative = fixture.spec(["true"])
        relative.rootDir = "root"
        #expect(throws: SandboxError.self) { try Sandbox.run(relative) }
    }
}

import Foundation
import Glibc
import Synchronization
@testable import StrataSandbox
import Testing
import StrataHostTestSupport

/// This machine's layout (hybrid: v1 controllers, a cgroup2 mount with only hugetlb).
private let hybridMountInfo = """
    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
    33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
    35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
    39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
    40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
    """

/// A pure v2 machine (systemd's default), with an optional field before the separator.
private let unifiedMountInfo = """
    22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
    26 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
    """

@Suite("cgroup layout")
struct CgroupLayoutTests {
    let all: [CgroupController] = [.memory, .pids, .cpu]

    @Test("hybrid: v1 hierarchies when the cgroup2 mount lacks the controllers")
    func hybrid() throws {
        let mounts = CgroupHierarchy.parseMountInfo(hybridMountInfo)
        #expect(mounts.count == 6)
        #expect(mounts.last == CgroupMount(version: .v2, mountPoint: "/sys/fs/cgroup/unified", readOnly: false))
        let layout = try CgroupHierarchy.layout(for: all, mounts: mounts) { _ in ["hugetlb"] }
        #expect(layout == .v1([
            CgroupPlacement(mountPoint: "/sys/fs/cgroup/memory", controllers: [.memory]),
            CgroupPlacement(mountPoint: "/sys/fs/cgroup/pids", controllers: [.pids]),
            CgroupPlacement(mountPoint: "/sys/fs/cgroup/cpu", controllers: [.cpu]),
        ]))
    }

    @Test("pure v2: one cgroup with every controller")
    func unified() throws {
        let mounts = CgroupHierarchy.parseMountInfo(unifiedMountInfo)
        #expect(mounts == [CgroupMount(version: .v2, mountPoint: "/sys/fs/cgroup", readOnly: false)])
        let layout = try CgroupHierarchy.layout(for: all, mounts: mounts) { _ in ["cpuset", "cpu", "io", "memory", "pids"] }
        #expect(layout == .v2(CgroupPlacement(mountPoint: "/sys/fs/cgroup", controllers: all)))
    }

    @Test("no limits: the cgroup2 mount tracks the session; without one, no cgroup at all")
    func noLimits() throws {
        let hybrid = try CgroupHierarchy.layout(for: [], mounts: CgroupHierarchy.parseMountInfo(hybridMountInfo)) { _ in [] }
        #expect(hybrid == .v2(CgroupPlacement(mountPoint: "/sys/fs/cgroup/unified", controllers: [])))
        let v1Only = CgroupHierarchy.parseMountInfo(hybridMountInfo).filter { $0.version != .v2 }
        #expect(try CgroupHierarchy.layout(for: [], mounts: v1Only) { _ in [] } == .v1([]))
    }

    @Test("co-mounted controllers share one cgroup; escaped mount points are decoded; writable mounts win")
    func coMounted() throws {
        let text = """
            50 31 0:40 / /mnt/cg\\040one ro,relatime - cgroup cgroup ro,memory
            51 31 0:41 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            52 31 0:40 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            """
        let mounts = CgroupHierarchy.parseMountInfo(text)
        #expect(mounts.first?.mountPoint == "/mnt/cg one")
        #expect(mounts.first?.readOnly == true)
        let layout = try CgroupHierarchy.layout(for: [.memory, .cpu], mounts: mounts) { _ in [] }
        #expect(layout == .v1([
            CgroupPlacement(mountPoint: "/sys/fs/cgroup/memory", controllers: [.memory]),
            CgroupPlacement(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: [.cpu]),
        ]))
    }

    @Test("a controller mounted nowhere is an error naming the limit")
    func missingController() {
        let mounts = CgroupHierarchy.parseMountInfo(hybridMountInfo).filter { $0.mountPoint != "/sys/fs/cgroup/pids" }
        #expect {
            _ = try CgroupHierarchy.layout(for: all, mounts: mounts) { _ in ["hugetlb"] }
        } throws: { error in
            guard case .setup(_, let path, let reason) = error as? SandboxError else { return false }
            return path == "/proc/self/mountinfo" && reason.contains("pids controller") && reason.contains("pids limit")
        }
    }

    @Test("cpu quotas: cpus × 100000 µs, at least 1000; huge pid limits mean max")
    func quotas() {
        #expect(ResourceLimits.cpuQuotaMicroseconds(0.5) == 50_000)
        #expect(ResourceLimits.cpuQuotaMicroseconds(2) == 200_000)
        #expect(ResourceLimits.cpuQuotaMicroseconds(0.333333) == 33_333)
        #expect(ResourceLimits.cpuQuotaMicroseconds(0.001) == 1_000)
        #expect(ResourceLimits.pidsMaxValue(64) == "64")
        #expect(ResourceLimits.pidsMaxValue(Int.max) == "max")
        #expect(ResourceLimits().isEmpty)
        #expect(!ResourceLimits(pids: 1).isEmpty)
    }

    @Test("limits no kernel accepts are refused before anything is made",
          arguments: [ResourceLimits(memoryBytes: 0), ResourceLimits(pids: 0), ResourceLimits(pids: -3),
                      ResourceLimits(cpus: 0), ResourceLimits(cpus: -1), ResourceLimits(cpus: .nan),
                      ResourceLimits(cpus: .infinity)])
    func invalidLimits(limits: ResourceLimits) {
        #expect {
            _ = try SessionCgroup.create(name: "never-made", limits: limits)
        } throws: { error in
            guard case .invalidSpec = error as? SandboxError else { return false }
            return true
        }
    }

    @Test("names must be one plain directory name", arguments: ["", ".", "..", "../escape", "a/b", ".hidden", "sp ace", "nul\0"])
    func invalidNames(name: String) {
        #expect {
            _ = try SessionCgroup.create(name: name, limits: ResourceLimits(pids: 10))
        } throws: { error in
            guard case .invalidSpec(let message) = error as? SandboxError else { return false }
            return message.contains("cgroup name")
        }
    }

    @Test("rootless: the delegated cgroup is this process's own (or the parent of strata.caller) when it may write it")
    func delegatedCgroup() throws {
        let scope = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
        let mine: (String) -> Bool = { $0.hasPrefix("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service") }
        let offered: (String) -> Set<String> = { _ in ["memory", "pids", "cpu"] }
        func find(_ membership: String, _ needed: [CgroupController] = [.memory, .pids],
                  mounts: [CgroupMount]? = nil, controllers: (String) -> Set<String> = offered,
                  writable: (String) -> Bool = mine) throws(DelegatedCgroup.Refusal) -> String {
            try DelegatedCgroup.find(needed: needed, mounts: mounts ?? CgroupHierarchy.parseMountInfo(unifiedMountInfo),
                                     membership: membership, controllers: controllers, writable: writable).directory
        }
        let path = String(scope.dropFirst("/sys/fs/cgroup".count))
        #expect(try find("0::\(path)\n") == scope)
        #expect(try find("0::\(path)/strata.caller\n") == scope, "a strata started from the leaf it made uses its parent")
        // Hybrid: the v2 line among v1 ones, the hierarchy at /sys/fs/cgroup/unified.
        let hybrid = try DelegatedCgroup.find(needed: [.pids], mounts: CgroupHierarchy.parseMountInfo(hybridMountInfo),
                                              membership: "4:memory:/x\n1:cpu:/\n0::/delegated\n", controllers: offered,
                                              writable: { $0 == "/sys/fs/cgroup/unified/delegated" })
        #expect(hybrid.directory == "/sys/fs/cgroup/unified/delegated")
        // A cgroup namespace's mount shows part of the hierarchy: paths are relative to its root.
        let namespaced = [CgroupMount(version: .v2, mountPoint: "/sys/fs/cgroup", readOnly: false, root: "/user.slice")]
        let inNamespace = "/sys/fs/cgroup/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
        #expect(try find("0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope\n", mounts: namespaced,
                         writable: { $0 == inNamespace }) == inNamespace)
        #expect(throws: DelegatedCgroup.Refusal.self) { try find("0::/system.slice/x.service\n", mounts: namespaced) }

        let refusals: [(String, [CgroupMount]?, (String) -> Set<String>, String)] = [
            ("0::/user.slice/user-1000.slice/session-2.scope\n", nil, offered, "session-2.scope is root's"),
            ("0::/\n", nil, offered, "/sys/fs/cgroup is root's"),
            ("1:cpu:/\n", nil, offered, "names no cgroup v2"),
            ("0::\(path)\n", CgroupHierarchy.parseMountInfo(hybridMountInfo).filter { $0.version != .v2 }, offered, "no writable cgroup v2"),
            ("0::\(path)\n", nil, { _ in ["pids"] }, "does not offer the memory controller (its parent"),
            ("0::\(path)\n", nil, { _ in [] }, "does not offer the memory, pids controllers"),
        ]
        for (membership, mounts, controllers, reason) in refusals {
            #expect(throws: DelegatedCgroup.Refusal.self) { try find(membership, mounts: mounts, controllers: controllers) }
            do { _ = try find(membership, mounts: mounts, controllers: controllers) } catch {
                #expect(error.reason.contains(reason), "\(error.reason)")
            }
        }
    }

    @Test("flat-keyed files: memory.events and memory.oom_control")
    func keyedValues() {
        let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"
        #expect(CgroupFile.keyedValue(events, key: "oom_kill") == 1)
        #expect(CgroupFile.keyedValue(events, key: "oom") == 2)
        #expect(CgroupFile.keyedValue("oom_kill_disable 0\nunder_oom 0\n", key: "oom_kill") == nil)
    }
}

/// Whether this process may make cgroups in every hierarchy the limits below need.
private var cgroupsWritable: Bool {
    guard geteuid() == 0,
          let layout = try? CgroupHierarchy.layout(for: CgroupController.allCases) else { return false }
    let placements: [CgroupPlacement]
    switch layout {
    case .v2(let placement): placements = [placement]
    case .v1(let list): placements = list
    }
    return placements.allSatisfy { access($0.mountPoint, W_OK) == 0 }
}

// Serialized: each test makes and removes real cgroups and waits on its own children.
@Suite("cgroups on this machine", .serialized, .sharedHostCgroups,
       .enabled(if: cgroupsWritable, "needs root and writable cgroup hierarchies with memory, pids and cpu (/sys/fs/cgroup)"))
struct CgroupTests {
    private static let counter = Atomic<Int>(0)

    /// A name no other test run uses at the same time.
    private func uniqueName(_ label: String) -> String {
        "test-\(getpid())-\(Self.counter.wrappingAdd(1, ordering: .relaxed).newValue)-\(label)"
    }

    private func contents(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable \(path)>")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("memory: memory.max (v2) or memory.limit_in_bytes and memsw (v1), no swap")
    func memoryLimit() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("memory"), limits: ResourceLimits(memoryBytes: 64 << 20))
        defer { #expect(cgroup.remove() == []) }
        #expect(cgroup.directories.count == 1)
        let dir = try #require(cgroup.directories.first)
        #expect(dir.hasSuffix("/strata/" + cgroup.name))
        if cgroup.unified {
            #expect(contents(dir + "/memory.max") == "67108864")
            if FileManager.default.fileExists(atPath: dir + "/memory.swap.max") {
                #expect(contents(dir + "/memory.swap.max") == "0")
            }
        } else {
            #expect(contents(dir + "/memory.limit_in_bytes") == "67108864")
            if FileManager.default.fileExists(atPath: dir + "/memory.memsw.limit_in_bytes") {
                #expect(contents(dir + "/memory.memsw.limit_in_bytes") == "67108864")
            }
        }
        #expect(cgroup.outOfMemoryKills() == 0)
    }

    @Test("pids: pids.max")
    func pidsLimit() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("pids"), limits: ResourceLimits(pids: 7))
        defer { #expect(cgroup.remove() == []) }
        let dir = try #require(cgroup.directories.first)
        #expect(contents(dir + "/pids.max") == "7")
        #expect(cgroup.outOfMemoryKills() == 0)
    }

    @Test("cpus: cpu.max (v2) or cfs_quota_us over a 100 ms cfs_period_us (v1)")
    func cpuLimit() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("cpu"), limits: ResourceLimits(cpus: 1.5))
        defer { #expect(cgroup.remove() == []) }
        let dir = try #require(cgroup.directories.first)
        if cgroup.unified {
            #expect(contents(dir + "/cpu.max") == "150000 100000")
        } else {
            #expect(contents(dir + "/cpu.cfs_period_us") == "100000")
            #expect(contents(dir + "/cpu.cfs_quota_us") == "150000")
        }
    }

    @Test("a process written into procsPaths is in every session cgroup; remove() kills it and leaves nothing")
    func joinAndRemove() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("join"),
                                              limits: ResourceLimits(memoryBytes: 256 << 20, pids: 50, cpus: 1))
        #expect(cgroup.procsPaths.count == cgroup.directories.count)
        #expect(cgroup.unified ? cgroup.directories.count == 1 : cgroup.directories.count == 3)
        let child = try Child.spawn(["/bin/sleep", "30"])
        try join(child.pid, cgroup)
        let membership = contents("/proc/\(child.pid)/cgroup").split(separator: "\n")
        #expect(membership.filter { $0.hasSuffix(":/strata/" + cgroup.name) }.count == cgroup.directories.count)

        // remove() gives up after removalTimeout and returns what is left: a sleep that must be
        // outwaited (30 s) would leave every directory, so [] means remove() killed it.
        #expect(SessionCgroup.removalTimeout < .seconds(30))
        #expect(cgroup.remove() == [])
        #expect(child.wait() == .signaled(SIGKILL))
        for dir in cgroup.directories { #expect(!FileManager.default.fileExists(atPath: dir)) }
        #expect(cgroup.remove() == [], "removing twice is harmless")
    }

    @Test("no limits: when cgroup2 is mounted, one v2 cgroup still tracks and kills the session")
    func noLimitsTracks() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("track"), limits: ResourceLimits())
        guard cgroup.unified else {
            #expect(cgroup.directories.isEmpty)
            return
        }
        let child = try Child.spawn(["/bin/sleep", "30"])
        try join(child.pid, cgroup)
        #expect(contents("/proc/\(child.pid)/cgroup").split(separator: "\n").contains("0::/strata/" + cgroup.name))
        #expect(cgroup.remove() == [])
        #expect(child.wait() == .signaled(SIGKILL))
    }

    @Test("going over the memory limit gets the process OOM-killed, and the kill is counted")
    func outOfMemory() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("oom"), limits: ResourceLimits(memoryBytes: 32 << 20))
        defer { #expect(cgroup.remove() == []) }
        // dd fills a 200 MiB buffer from /dev/zero: every page is touched and charged.
        let child = try Child.spawn(["/bin/busybox", "sh", "-c",
                                     "read x; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=209715200 count=1"])
        try join(child.pid, cgroup)
        child.release()
        #expect(child.wait() == .signaled(SIGKILL))
        #expect(cgroup.outOfMemoryKills() >= 1)
    }

    @Test("forking beyond the pids limit fails with EAGAIN")
    func pidsExhausted() throws {
        let cgroup = try SessionCgroup.create(name: uniqueName("fork"), limits: ResourceLimits(pids: 4))
        defer { #expect(cgroup.remove() == []) }
        let errors = NSTemporaryDirectory() + "/strata-cgroup-\(cgroup.name).err"
        defer { unlink(errors) }
        let child = try Child.spawn(["/bin/busybox", "sh", "-c",
                                     "read x; for i in 1 2 3 4 5 6 7 8; do /bin/busybox sleep 30 & done; wait"],
                                    stderrPath: errors)
        try join(child.pid, cgroup)
        child.release()
        #expect(child.wait() != .exited(0))
        #expect(contents(errors).contains("Resource temporarily unavailable"))
    }

    @Test("an empty leftover cgroup of the same name is replaced; a busy one is an error")
    func leftovers() throws {
        let name = uniqueName("leftover")
        let first = try SessionCgroup.create(name: name, limits: ResourceLimits(pids: 5))
        let second = try SessionCgroup.create(name: name, limits: ResourceLimits(pids: 6))
        #expect(second.directories == first.directories)
        let dir = try #require(second.directories.first)
        #expect(contents(dir + "/pids.max") == "6")

        let child = try Child.spawn(["/bin/sleep", "30"])
        try join(child.pid, second)
        #expect {
            _ = try SessionCgroup.create(name: name, limits: ResourceLimits(pids: 7))
        } throws: { error in
            guard case .setup(_, let path, let reason) = error as? SandboxError else { return false }
            return path == dir && reason.contains("in use")
        }
        #expect(second.remove() == [])
        #expect(child.wait() == .signaled(SIGKILL))
    }

    @Test("sessions created at the same moment, parents included, all succeed")
    func concurrentCreation() throws {
        // Only succeeds when no other session exists, which makes the parents race too.
        for dir in try parentDirectories() { rmdir(dir) }
        let names = (0..<8).map { uniqueName("concurrent\($0)") }
        let results = Mutex<[Result<SessionCgroup, SandboxError>]>([])
        DispatchQueue.concurrentPerform(iterations: names.count) { index in
            let result = Result { () throws(SandboxError) in
                try SessionCgroup.create(name: names[index], limits: ResourceLimits(memoryBytes: 64 << 20, pids: 20, cpus: 0.5))
            }
            results.withLock { $0.append(result) }
        }
        let cgroups = results.withLock { $0 }.compactMap { try? $0.get() }
        #expect(cgroups.count == names.count)
        for cgroup in cgroups { #expect(cgroup.remove() == []) }
    }

    // MARK: helpers

    private func parentDirectories() throws -> [String] {
        switch try CgroupHierarchy.layout(for: CgroupController.allCases) {
        case .v2(let placement): return [placement.mountPoint + "/strata"]
        case .v1(let placements): return placements.map { $0.mountPoint + "/strata" }
        }
    }

    /// Moves `pid` into the session's cgroups through the descriptors the session's child would use.
    private func join(_ pid: pid_t, _ cgroup: SessionCgroup) throws {
        let fds = try cgroup.openProcsFiles()
        defer { for fd in fds { close(fd) } }
        for fd in fds {
            let text = Array("\(pid)".utf8)
            let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written != text.count { throw FixtureError("joining the cgroup failed: errno \(errno)") }
        }
    }
}

/// A child process started with posix_spawn whose stdin is a pipe: it can wait on
/// `read x` until the test has moved it into a cgroup.
private struct Child {
    enum Exit: Equatable { case exited(Int32), signaled(Int32) }

    let pid: pid_t
    let stdinWriter: Int32

    static func spawn(_ argv: [String], stderrPath: String? = nil) throws -> Child {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { throw FixtureError("pipe failed: errno \(errno)") }
        // Only the dup2'd stdin may reach the child (dup2 clears close-on-exec on it).
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        close(pipeFDs[0])
        guard rc == 0 else {
            close(pipeFDs[1])
            throw FixtureError("posix_spawn \(argv[0]) failed: errno \(rc)")
        }
        return Child(pid: pid, stdinWriter: pipeFDs[1])
    }

    /// Ends the child's `read x`.
    func release() {
        _ = write(stdinWriter, "\n", 1)
    }

    func wait() -> Exit {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        close(stdinWriter)
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

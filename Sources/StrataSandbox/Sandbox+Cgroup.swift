import Glibc
import StrataOS
import Synchronization

/// Sessions with resource limits: their cgroup is named after the strata process
/// that made it, so that one a killed strata could not remove is recognised and
/// removed by the next session that needs a cgroup.
extension Sandbox {
    private static let cgroupSerial = Mutex<Int>(0)
    static let cgroupPrefix = "session-"

    static func runInCgroup(_ spec: SessionSpec) throws(SandboxError) -> SessionExit {
        let cgroup = try SessionCgroup.create(name: nextCgroupName(), limits: spec.limits, delegated: spec.userNamespace != .none)
        // Whatever happens, the cgroup goes (killing anything still in it).
        defer { cgroup.remove() }
        removeAbandonedCgroups(besides: cgroup)
        let fds = try cgroup.openProcsFiles()
        let exit: SessionExit
        do {
            exit = try runSession(spec, cgroupFDs: fds, cgroupDirectories: cgroup.directories)
            for fd in fds { close(fd) }
        } catch {
            for fd in fds { close(fd) }
            throw error
        }
        if exit == .signaled(SIGKILL), let limit = spec.limits.memoryBytes, cgroup.outOfMemoryKills() > 0 {
            return .outOfMemory(limitBytes: limit)
        }
        return exit
    }

    /// `session-PID-N`: unique among live strata processes.
    private static func nextCgroupName() -> String {
        let serial = cgroupSerial.withLock { value in
            value += 1
            return value
        }
        return cgroupPrefix + "\(getpid())-\(serial)"
    }

    /// Removes sibling session cgroups whose strata process is gone (killed with SIGKILL,
    /// so it never ran `remove()`). Their processes died with the session's init (the
    /// PID namespace goes with it), so rmdir succeeds; a cgroup still in use by anyone
    /// fails with EBUSY and stays.
    static func removeAbandonedCgroups(besides cgroup: SessionCgroup) {
        for directory in cgroup.directories {
            guard let slash = directory.lastIndex(of: "/") else { continue }
            let parent = String(directory[..<slash])
            // Best effort: a parent that cannot be listed has nothing this process can clean.
            guard let names = try? Directory.names(parent) else { continue }
            for name in names {
                guard name.hasPrefix(cgroupPrefix), let owner = owningProcess(name), owner != getpid() else { continue }
                if kill(owner, 0) != 0 && errno == ESRCH { rmdir(parent + "/" + name) }
            }
        }
    }

    static func owningProcess(_ name: String) -> pid_t? {
        let parts = name.dropFirst(cgroupPrefix.count).split(separator: "-")
        guard parts.count == 2, Int(parts[1]) != nil else { return nil }
        return pid_t(parts[0])
    }
}

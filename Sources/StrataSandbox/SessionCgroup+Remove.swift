import Glibc

extension SessionCgroup {
    /// How long `remove()` waits for killed processes to leave their cgroups.
    static let removalTimeout = Duration.seconds(2)

    /// Kills every process still in the session's cgroups (and in cgroups made below
    /// them), then removes the directories. Processes take a moment to exit after
    /// SIGKILL, so busy directories are retried for up to two seconds.
    ///
    /// Never throws: returns the directories left behind (empty when everything is gone)
    /// for the caller to report. Safe to call more than once.
    @discardableResult
    public func remove() -> [String] {
        let deadline = ContinuousClock.now + Self.removalTimeout
        var left = directories
        // A killed process usually leaves within a fraction of a millisecond: poll fast
        // at first, then back off.
        var pause: useconds_t = 100
        while true {
            left = left.filter { !removeTree($0) }
            if left.isEmpty || ContinuousClock.now >= deadline { return left }
            usleep(pause)
            pause = min(pause * 2, 10_000)
        }
    }

    /// One attempt at killing what runs in `dir` and below and removing it bottom-up;
    /// true when `dir` is gone.
    private func removeTree(_ dir: String) -> Bool {
        // cgroup.kill (Linux 5.14+) kills the whole subtree at once, also processes
        // forking while it runs; elsewhere each listed process is killed in turn.
        let killFile = dir + "/cgroup.kill"
        let killedAtOnce = unified && CgroupFile.exists(killFile) && (try? CgroupFile.write(killFile, "1")) != nil
        return removeTree(dir, killEach: !killedAtOnce)
    }

    private func removeTree(_ dir: String, killEach: Bool) -> Bool {
        for child in CgroupFile.subdirectories(dir) { _ = removeTree(child, killEach: killEach) }
        if killEach {
            for pid in CgroupFile.pids(dir + "/cgroup.procs") where pid > 0 { kill(pid, SIGKILL) }
        }
        return rmdir(dir) == 0 || errno == ENOENT
    }
}

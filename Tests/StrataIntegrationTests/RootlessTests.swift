import Foundation
import Testing
import StrataHostTestSupport

/// A user the test makes (`useradd`), running strata as themselves through `setpriv`; with
/// the subordinate range useradd gives, or with it taken away. Removed with `userdel -r`.
struct RootlessUser {
    let name: String
    let uid: UInt32
    let gid: UInt32
    /// strata and strata-fetch copied where the user can run them (the build directory may
    /// be under a 0700 home, such as root's).
    let binaries: String

    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd") && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    }

    /// Whether newuidmap is installed setuid (package uidmap): without it there is no range.
    static var helpersInstalled: Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: "/usr/bin/newuidmap"),
              let mode = attributes[.posixPermissions] as? Int else { return false }
        return mode & 0o4000 != 0
    }

    init(subordinateRange: Bool) throws {
        name = "strata-rl-\(getpid() % 10000)-\(UInt16.random(in: 0...UInt16.max))"
        let added = Harness.exec(["/usr/sbin/useradd", "-m", "-s", "/bin/bash", name], cwd: "/", env: ["PATH": "/usr/sbin:/usr/bin:/bin"])
        guard added.status == 0 else { throw RootlessFailure("useradd: \(added.stderr)") }
        let ids = Harness.exec(["/usr/bin/id", "-u", name], cwd: "/", env: [:]).stdout
        let groups = Harness.exec(["/usr/bin/id", "-g", name], cwd: "/", env: [:]).stdout
        uid = UInt32(ids.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        gid = UInt32(groups.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        binaries = "/tmp/\(name)-bin"
        if !subordinateRange {
            for (file, flag) in [("/etc/subuid", "--del-subuids"), ("/etc/subgid", "--del-subgids")] {
                let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
                    let fields = line.split(separator: ":")
                    if fields.count == 3, let start = Int(fields[1]), let count = Int(fields[2]) {
                        _ = Harness.exec(["/usr/sbin/usermod", flag, "\(start)-\(start + count - 1)", name], cwd: "/", env: ["PATH": "/usr/sbin:/usr/bin:/bin"])
                    }
                }
            }
        }
        try FileManager.default.createDirectory(atPath: binaries, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let built = URL(fileURLWithPath: Harness.binary).deletingLastPathComponent().path
        for program in ["strata", "strata-fetch"] {
            try FileManager.default.copyItem(atPath: built + "/" + program, toPath: binaries + "/" + program)
        }
    }

    /// Runs this user's strata (their default store, ~/.local/share/strata) in `directory`;
    /// with `cgroup`, started in that cgroup v2 directory, as a systemd scope would be.
    func strata(_ arguments: [String], in directory: String, env: [String: String] = [:], stdin: String? = nil,
                cgroup: String? = nil) -> Harness.Result {
        let variables = env.map { "\($0.key)=\($0.value)" }.sorted()
        let entry = cgroup.map { ["/bin/sh", "-c", #"echo $$ > "$0/cgroup.procs" && exec "$@""#, $0] } ?? []
        return Harness.exec(entry + ["/usr/bin/setpriv", "--reuid=\(name)", "--regid=\(name)", "--init-groups", "--reset-env",
                                     "/usr/bin/env"] + variables + [binaries + "/strata"] + arguments, cwd: directory, env: [:], stdin: stdin)
    }

    /// Gives the user the harness's project (and its parent), which they lock and build in.
    func own(_ harness: Harness) {
        let base = URL(fileURLWithPath: harness.project).deletingLastPathComponent().path
        _ = Harness.exec(["/bin/chown", "-R", "\(uid):\(gid)", harness.project], cwd: "/", env: [:])
        chmod(base, 0o755)
    }

    func remove() {
        // Processes left by a failed test would keep userdel from removing the user.
        _ = Harness.exec(["/usr/bin/pkill", "-KILL", "-u", name], cwd: "/", env: [:])
        _ = Harness.exec(["/usr/sbin/userdel", "-r", name], cwd: "/", env: ["PATH": "/usr/sbin:/usr/bin:/bin"])
        _ = Harness.exec(["/bin/rm", "-rf", binaries, "/home/" + name], cwd: "/", env: [:])
    }
}

struct RootlessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// strata for an unprivileged user: no sudo, no setuid helper of strata's. The same lockfile
/// gives the same snapshot and image as for root; sessions are confined as root's are, run as
/// the user in the project, and cannot reach what the user cannot.
@Suite(.serialized) struct RootlessTests {
    static let manifest = """
        {"from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"run": "echo built > /built && chown 1000:1000 /built && mkdir -p /srv/owned && chown 33:33 /srv/owned"}]}
        """

    @Test func aUserRunsEveryCommandAndGetsRootsDigests() throws {
        guard RootlessUser.available else { Issue.record("useradd/setpriv are missing"); return }
        guard RootlessUser.helpersInstalled else { Issue.record("newuidmap is not installed setuid (scripts/setup installs uidmap)"); return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let user = try RootlessUser(subordinateRange: true)
        defer { user.remove() }
        try harness.manifest("bb", Self.manifest)
        let epoch = ["SOURCE_DATE_EPOCH": "1700000000"]

        // As root first: the lockfile, the snapshot, an image of one change.
        #expect(harness.strata(["lock", "bb"]).status == 0)
        let rootBuild = harness.strata(["build", "bb"])
        #expect(rootBuild.status == 0, "\(rootBuild.stderr)")
        #expect(harness.strata(["run", "--name", "c", "-u", "0", "bb", "--", "sh", "-c", "echo changed > /etc/motd; rm /bin/vi"]).status == 0)
        let rootImage = harness.strata(["commit", "c", "--tag", "rl:1"], env: epoch)
        #expect(rootImage.status == 0, "\(rootImage.stderr)")

        user.own(harness)
        let project = harness.project
        let check = user.strata(["lock", "bb", "--check"], in: project)
        #expect(check.status == 0, "the user reads root's lockfile as current: \(check.stderr)")
        let built = user.strata(["build", "bb"], in: project)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout == rootBuild.stdout, "the same layers and snapshot as root's: \(built.stdout) vs \(rootBuild.stdout)")
        let owners = user.strata(["run", "bb", "--", "sh", "-c", "stat -c '%u:%g' /built /srv/owned /bin/busybox"], in: project)
        #expect(owners.stdout == "1000:1000\n33:33\n0:0\n", "owners inside are the lockfile's: \(owners.stdout) \(owners.stderr)")
        #expect(user.strata(["run", "--name", "c", "-u", "0", "bb", "--", "sh", "-c", "echo changed > /etc/motd; rm /bin/vi"], in: project).status == 0)
        let image = user.strata(["commit", "c", "--tag", "rl:1"], in: project, env: epoch)
        #expect(image.status == 0 && image.stdout == rootImage.stdout, "the same image as root's: \(image.stdout) vs \(rootImage.stdout) \(image.stderr)")
        #expect(user.strata(["images"], in: project).stdout.contains("rl:1"))
        let diff = user.strata(["diff", "c"], in: project)
        #expect(diff.stdout.contains("A /etc/motd") && diff.stdout.contains("D /bin/vi"), "\(diff.stdout) \(diff.stderr)")

        // In the project, as the user: what the session makes there is theirs on the host.
        let mine = user.strata(["run", "bb", "--", "sh", "-c", "id -u; pwd; echo made > made-rootless"], in: project)
        #expect(mine.stdout == "\(user.uid)\n\(project)\n", "\(mine.stdout) \(mine.stderr)")
        var info = stat()
        #expect(stat(project + "/made-rootless", &info) == 0 && info.st_uid == user.uid && info.st_gid == user.gid)

        // Confined as a root session is: the bounding set, seccomp, no mounts, no host fds.
        let confined = user.strata(["run", "-u", "0", "bb", "--", "sh", "-c",
                                    "grep -E '^(CapBnd|Seccomp):' /proc/self/status; mount -t tmpfs x /mnt 2>/dev/null || echo no-mount; unshare -m true 2>/dev/null || echo no-unshare; ls /proc/self/fd"], in: project)
        #expect(confined.stdout == "CapBnd:\t00000000a80425fb\nSeccomp:\t2\nno-mount\nno-unshare\n0\n1\n2\n3\n", "\(confined.stdout) \(confined.stderr)")
        // Root inside is no one outside: another user's 0600 file stays closed, even bound in.
        let secret = "/tmp/\(user.name)-secret"
        try FileManager.default.createDirectory(atPath: secret, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: secret) }
        try "root's\n".write(toFile: secret + "/file", atomically: true, encoding: .utf8)
        chmod(secret + "/file", 0o600)
        let denied = user.strata(["run", "-u", "0", "-v", secret + ":/s", "bb", "--", "sh", "-c", "cat /s/file 2>&1; ls -ln /s/file"], in: project)
        #expect(denied.stdout.contains("Permission denied") && denied.stdout.contains("65534"), "\(denied.stdout) \(denied.stderr)")

        // exec into a running session, volumes, and a refusal of limits with the reason.
        #expect(user.strata(["run", "-d", "--name", "bg", "bb", "--", "sleep", "30"], in: project).status == 0)
        let exec = user.strata(["exec", "bg", "--", "id", "-u"], in: project)
        #expect(exec.stdout == "\(user.uid)\n", "\(exec.stdout) \(exec.stderr)")
        #expect(user.strata(["stop", "-t", "1", "bg"], in: project).status == 0)
        #expect(user.strata(["run", "-v", "data:/data", "bb", "--", "sh", "-c", "echo kept > /data/f"], in: project).status == 0)
        #expect(user.strata(["run", "-v", "data:/data", "bb", "--", "cat", "/data/f"], in: project).stdout == "kept\n")
        let volumes = user.strata(["volume", "ls", "-q"], in: project).stdout
        #expect(volumes.contains("data\n") && volumes.contains("bb.home.\(user.name)"), "\(volumes)")
        let limited = user.strata(["run", "--memory", "64m", "bb", "--", "true"], in: project)
        #expect(limited.status == 2 && limited.stderr.contains("rootless session") && limited.stderr.contains("systemd-run --user"), "\(limited.stderr)")

        // The user's store is theirs alone.
        let store = "/home/\(user.name)/.local/share/strata"
        #expect(stat(store, &info) == 0 && info.st_uid == user.uid && info.st_mode & 0o777 == 0o700, "\(store)")

        // gc and prune remove what the user's store no longer needs, files owned by their
        // subordinate ids (the step's 33:33 directory) included, from inside the namespace.
        #expect(user.strata(["rm", "c", "bg"], in: project).status == 0)
        #expect(user.strata(["image", "rm", "rl:1"], in: project).status == 0)
        unlink(project + "/lockfiles/bb.lock.json")
        let pruned = user.strata(["prune", "-f"], in: project)
        #expect(pruned.status == 0 && pruned.stdout.contains("layer "), "\(pruned.stdout) \(pruned.stderr)")
        let layers = (try? FileManager.default.contentsOfDirectory(atPath: store + "/layers")) ?? ["unreadable"]
        #expect(layers.isEmpty, "\(layers)")
        #expect(user.strata(["fsck"], in: project).status == 0)
    }

    /// With a cgroup v2 delegated to the user (as systemd's Delegate=yes gives), limits are
    /// enforced in a cgroup below it, exec joins it, and a controller it lacks is refused.
    @Test(.exclusiveHostCgroups) func limitsGoBelowTheCgroupDelegatedToTheUser() throws {
        guard RootlessUser.available, RootlessUser.helpersInstalled else { Issue.record("useradd/setpriv/newuidmap are missing"); return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let user = try RootlessUser(subordinateRange: true)
        defer { user.remove() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "project": false}"#)
        user.own(harness)
        let delegated = try DelegatedCgroupFixture(["pids", "cpu"], to: user)
        defer { delegated.remove() }
        try #require(delegated.controllers.contains("pids"), "pids cannot be moved to cgroup v2 on this machine: \(delegated.notes)")
        let scope = delegated.directory
        // Started where the user's shell would be: strata moves what it finds in the scope into
        // strata.caller, so later commands come from there.
        func strata(_ arguments: [String]) -> Harness.Result {
            let leaf = scope + "/strata.caller"
            return user.strata(arguments, in: harness.project, cgroup: FileManager.default.fileExists(atPath: leaf) ? leaf : scope)
        }

        let bomb = strata(["run", "--pids-limit", "20", "bb", "--", "sh", "-c",
                           "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo loop-ended"])
        #expect(bomb.stdout.contains("Resource temporarily unavailable") && !bomb.stdout.contains("loop-ended"),
                "the fork after the 20th process fails: \(bomb.stdout) \(bomb.stderr)")
        // The processes strata found in the scope moved to a leaf, so the scope can hand out controllers.
        #expect(FileManager.default.fileExists(atPath: scope + "/strata.caller"))
        #expect(((try? String(contentsOfFile: scope + "/cgroup.procs", encoding: .utf8)) ?? "x").isEmpty)

        let cpus = delegated.controllers.contains("cpu")
        let started = strata(["run", "-d", "--name", "lim", "--pids-limit", "30"] + (cpus ? ["--cpus", "0.5"] : []) + ["bb", "--", "sleep", "60"])
        #expect(started.status == 0, "\(started.stderr)")
        func sessionCgroups() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: scope + "/strata")) ?? []).filter { $0.hasPrefix("session-") }
        }
        // -d returns once the session is asked for; its cgroup comes a moment later.
        let deadline = Date().addingTimeInterval(10)
        while sessionCgroups().isEmpty && Date() < deadline { usleep(20_000) }
        let sessions = sessionCgroups()
        #expect(sessions.count == 1, "\(sessions)")
        if let session = sessions.first {
            let dir = scope + "/strata/" + session
            #expect((try? String(contentsOfFile: dir + "/pids.max", encoding: .utf8)) == "30\n")
            if cpus { #expect((try? String(contentsOfFile: dir + "/cpu.max", encoding: .utf8)) == "50000 100000\n") }
            let joined = strata(["exec", "lim", "--", "cat", "/proc/self/cgroup"])
            // The session's cgroup namespace is rooted at its cgroup: a command outside it would see "/..".
            #expect(joined.stdout.contains("\n0::/\n"), "exec joins the session's cgroup: \(joined.stdout) \(joined.stderr)")
        }
        #expect(strata(["stop", "-t", "1", "lim"]).status == 0)
        #expect(sessionCgroups().isEmpty, "the session's cgroup goes with it: \(sessionCgroups())")

        if !delegated.controllers.contains("memory") {
            let memory = strata(["run", "-m", "64m", "bb", "--", "true"])
            #expect(memory.status == 2 && memory.stderr.contains("does not offer the memory controller"), "\(memory.stderr)")
        }
    }

    /// Without a subordinate range only one id exists: the user is root inside (and owns what
    /// that root makes), and anything needing another id is refused with what to do.
    @Test func withoutASubordinateRangeTheUserIsRootInside() throws {
        guard RootlessUser.available else { Issue.record("useradd/setpriv are missing"); return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let user = try RootlessUser(subordinateRange: false)
        defer { user.remove() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}}"#)
        user.own(harness)
        let run = user.strata(["run", "bb", "--", "sh", "-c", "id -u; cat /proc/self/uid_map | wc -l; echo x > single; ls /dev/pts"], in: harness.project)
        #expect(run.status == 0 && run.stdout.hasPrefix("0\n1\n"), "\(run.stdout) \(run.stderr)")
        var info = stat()
        #expect(stat(harness.project + "/single", &info) == 0 && info.st_uid == user.uid)
        let other = user.strata(["run", "-u", "1000", "bb", "--", "true"], in: harness.project)
        #expect(other.status == 2 && other.stderr.contains("/etc/subuid"), "\(other.stderr)")
        let tty = user.strata(["run", "-t", "bb", "--", "tty"], in: harness.project)
        #expect(tty.stdout.hasPrefix("/dev/pts/"), "a terminal without gid 5: \(tty.stdout) \(tty.stderr)")
    }
}

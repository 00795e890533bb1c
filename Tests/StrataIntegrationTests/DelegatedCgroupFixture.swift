import Foundation
import Testing

/// A cgroup v2 delegated to a test's user, as systemd's `Delegate=yes` makes one: owned by the
/// user (the directory, `cgroup.procs`, `cgroup.subtree_control`, `cgroup.threads`), with the
/// wanted controllers handed down from the root.
///
/// These machines are hybrid: pids and cpu belong to cgroup v1 hierarchies, and cgroup v2 has
/// none of them. A v1 hierarchy holding no cgroup but its root gives its controller back to v2
/// when unmounted, so the fixture unmounts those, and mounts them again in `remove()`. Hold
/// `.exclusiveHostCgroups` meanwhile: no other session may ask for pids or cpu limits.
struct DelegatedCgroupFixture {
    /// The cgroup2 mount point (`/sys/fs/cgroup/unified` here, `/sys/fs/cgroup` on pure v2).
    let hierarchy: String
    /// The delegated cgroup.
    let directory: String
    /// The controllers the delegated cgroup offers.
    let controllers: Set<String>
    private let enabledAtRoot: [String]
    /// Why a wanted controller could not be had.
    let notes: [String]
    /// v1 hierarchies unmounted to free a controller: mount point and super options.
    private let unmounted: [(mountPoint: String, options: String)]

    /// Delegates what it can of `wanted` to `user`; throws when even the first can't be had.
    init(_ wanted: [String], to user: RootlessUser) throws {
        let mountInfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        var v2: String?
        var v1: [(mountPoint: String, options: String)] = []
        for line in mountInfo.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count else { continue }
            if fields[dash + 1] == "cgroup2" { v2 = v2 ?? fields[4] }
            if fields[dash + 1] == "cgroup" { v1.append((fields[4], fields[dash + 3])) }
        }
        guard let v2 else { throw RootlessFailure("no cgroup2 mount") }
        hierarchy = v2
        var unmounted: [(mountPoint: String, options: String)] = []
        var notes: [String] = []
        for controller in wanted where !Self.offered(at: v2).contains(controller) {
            // Only a hierarchy with no cgroup but its root frees its controller when unmounted.
            // Root sessions leave their empty parent, strata/, and podman its libpod_parent/:
            // empty cgroups, which rmdir removes (it refuses any with a process in it).
            guard let mount = v1.first(where: { $0.options.split(separator: ",").contains(Substring(controller)) }) else { continue }
            for child in Self.childCgroups(mount.mountPoint) { Self.removeEmptyTree(child) }
            // Removed cgroups are counted until their last process is reaped.
            let settled = Date().addingTimeInterval(10)
            while Self.cgroupCount(controller) != 1 && Date() < settled { usleep(50_000) }
            guard Self.cgroupCount(controller) == 1 else {
                notes.append("\(mount.mountPoint) still has \(Self.cgroupCount(controller)) cgroups")
                continue
            }
            let unmount = Harness.exec(["/bin/umount", mount.mountPoint], cwd: "/", env: [:])
            guard unmount.status == 0 else {
                notes.append("umount \(mount.mountPoint): \(unmount.stderr)")
                continue
            }
            unmounted.append(mount)
            // The controller's v1 state goes asynchronously: it shows up in v2 a moment later.
            let deadline = Date().addingTimeInterval(10)
            while !Self.offered(at: v2).contains(controller) && Date() < deadline { usleep(50_000) }
            if !Self.offered(at: v2).contains(controller) { notes.append("\(controller) did not move to cgroup v2 within 10 s") }
        }
        self.notes = notes
        self.unmounted = unmounted
        let available = wanted.filter { Self.offered(at: v2).contains($0) }
        let already = Self.words(v2 + "/cgroup.subtree_control")
        enabledAtRoot = available.filter { !already.contains($0) }
        directory = v2 + "/strata-test-\(user.name)"
        controllers = Set(available)
        do {
            if !enabledAtRoot.isEmpty {
                try enabledAtRoot.map { "+" + $0 }.joined(separator: " ").write(toFile: v2 + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            for path in [directory] + ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"].map({ directory + "/" + $0 }) {
                guard chown(path, user.uid, user.gid) == 0 else { throw RootlessFailure("chown \(path): errno \(errno)") }
            }
        } catch {
            remove()
            throw error
        }
    }

    /// Kills what runs in the delegated cgroup, removes it, and puts the host's layout back.
    func remove() {
        _ = try? "1".write(toFile: directory + "/cgroup.kill", atomically: false, encoding: .utf8)
        let deadline = Date().addingTimeInterval(10)
        while FileManager.default.fileExists(atPath: directory) && Date() < deadline {
            Self.removeEmptyTree(directory)
            usleep(20_000)
        }
        if !enabledAtRoot.isEmpty {
            _ = try? enabledAtRoot.map { "-" + $0 }.joined(separator: " ").write(toFile: hierarchy + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
        }
        for mount in unmounted {
            // A controller lingers in v2 a moment after it is disabled there.
            let until = Date().addingTimeInterval(10)
            while Harness.exec(["/bin/mount", "-t", "cgroup", "-o", mount.options, "cgroup", mount.mountPoint], cwd: "/", env: [:]).status != 0,
                  Date() < until { usleep(100_000) }
        }
    }

    /// Removes the cgroup at `path` and those below it, bottom-up, where they hold no process.
    private static func removeEmptyTree(_ path: String) {
        for child in childCgroups(path) { removeEmptyTree(child) }
        rmdir(path)
    }

    private static func childCgroups(_ path: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.map { path + "/" + $0 }.filter { child in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    /// The controllers a cgroup v2 directory offers its processes.
    static func offered(at directory: String) -> Set<String> { Set(words(directory + "/cgroup.controllers")) }

    private static func words(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// How many cgroups the v1 hierarchy of `controller` has (/proc/cgroups), 0 when unknown.
    private static func cgroupCount(_ controller: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/cgroups", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 4, fields[0] == controller { return Int(fields[2]) ?? 0 }
        }
        return 0
    }
}

import Glibc

/// The cgroup v2 subtree a rootless strata may write: the cgroup it runs in, when the user's
/// service manager delegated it (systemd's `Delegate=yes`, which `systemd-run --user --scope`
/// and the user's own `user@UID.service` get). A rootless session's limits go in a cgroup
/// below it, where podman's would; anywhere else a user may not create cgroups.
///
/// cgroup v2 hands controllers to a cgroup's children only while it holds no process itself,
/// and a delegated scope holds the processes that started strata. So `prepare` first moves
/// them (strata, the shell it came from) into a child named `strata.caller`, as podman moves
/// itself under a subtree of its own; a strata started later from there recognises the leaf
/// and uses its parent again.
public struct DelegatedCgroup: Equatable, Sendable {
    /// The child that holds the processes found in the delegated cgroup.
    static let callerLeaf = "strata.caller"
    static let ownCgroupPath = "/proc/self/cgroup"

    /// The delegated cgroup's directory (session cgroups go in its `strata/`).
    public let directory: String

    /// Why a rootless session cannot have limits on this machine, as a clause that reads
    /// after "because" ("this process's cgroup … is root's").
    public struct Refusal: Error, Equatable, Sendable {
        public let reason: String
    }

    /// The cgroup delegated to this process that offers every controller `limits` needs.
    public static func find(for limits: ResourceLimits) throws(Refusal) -> DelegatedCgroup {
        let mountInfo: String, membership: String
        do {
            mountInfo = try CgroupFile.read(CgroupHierarchy.mountInfoPath)
            membership = try CgroupFile.read(ownCgroupPath)
        } catch {
            throw Refusal(reason: "this process's cgroups cannot be read (\(error.reason))")
        }
        return try find(needed: CgroupController.needed(by: limits), mounts: CgroupHierarchy.parseMountInfo(mountInfo),
                        membership: membership, controllers: { directory in
                            let list = (try? CgroupFile.read(directory + "/cgroup.controllers")) ?? ""
                            return Set(list.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
                        }, writable: { (directory: String) -> Bool in
                            // The directory (to make children in) and the two files migrating
                            // processes and handing out controllers write.
                            let paths: [String] = [directory, directory + "/cgroup.procs", directory + "/cgroup.subtree_control"]
                            return paths.allSatisfy { access($0, W_OK) == 0 }
                        })
    }

    /// `find` on given inputs: mountinfo's cgroup mounts, `/proc/self/cgroup`'s text, and how
    /// to read a cgroup's `cgroup.controllers` and tell whether this process may write it.
    static func find(needed: [CgroupController], mounts: [CgroupMount], membership: String,
                     controllers: (String) -> Set<String>, writable: (String) -> Bool) throws(Refusal) -> DelegatedCgroup {
        let v2Mounts = mounts.filter { $0.version == .v2 && !$0.readOnly }
        guard !v2Mounts.isEmpty else {
            throw Refusal(reason: "this machine has no writable cgroup v2 hierarchy mounted (only v1, which is never delegated to users)")
        }
        // "0::PATH" is the cgroup v2 line; v1 hierarchies have their number in front.
        guard let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else {
            throw Refusal(reason: "\(ownCgroupPath) names no cgroup v2 for this process")
        }
        var path = String(line.dropFirst(3))
        guard let (mount, relative) = v2Mounts.lazy.compactMap({ mount in mount.relative(path).map { (mount, $0) } }).first else {
            throw Refusal(reason: "this process's cgroup \(path) is outside every mounted cgroup v2 hierarchy")
        }
        path = relative.hasSuffix("/" + callerLeaf) ? String(relative.dropLast(callerLeaf.count + 1)) : relative
        if path.isEmpty { path = "/" }
        let directory = mount.mountPoint + (path == "/" ? "" : path)
        guard path != "/", writable(directory) else {
            throw Refusal(reason: "this process's cgroup \(directory) is root's (nothing is delegated to this user there)")
        }
        let offered = controllers(directory)
        let missing = needed.filter { !offered.contains($0.rawValue) }
        if !missing.isEmpty {
            let names = missing.map(\.rawValue).joined(separator: ", ")
            throw Refusal(reason: "the cgroup delegated to this user, \(directory), does not offer the \(names) controller"
                + (missing.count == 1 ? "" : "s") + " (its parent does not hand \(missing.count == 1 ? "it" : "them") down; with systemd, Delegate= on the user's service or scope names the controllers)")
        }
        return DelegatedCgroup(directory: directory)
    }

    /// Makes `controllers` available to the delegated cgroup's children, moving the processes
    /// it holds into `strata.caller` first. Safe against other strata processes doing the same.
    func prepare(_ controllers: [CgroupController]) throws(SandboxError) {
        let control = directory + "/cgroup.subtree_control"
        let leaf = directory + "/" + Self.callerLeaf
        // A process forked into the cgroup between the move and the write makes it busy again.
        var attempt = 0
        while true {
            attempt += 1
            let enabled: Set<Substring>
            do { enabled = Set(try CgroupFile.read(control).split(whereSeparator: { $0 == " " || $0 == "\n" })) } catch {
                throw .setup(step: "enable cgroup controllers", path: control, reason: error.reason)
            }
            let missing = controllers.filter { !enabled.contains(Substring($0.rawValue)) }
            if missing.isEmpty { return }
            let pids = CgroupFile.pids(directory + "/cgroup.procs")
            if !pids.isEmpty {
                do { try CgroupFile.makeDirectory(leaf) } catch {
                    if error.code != EEXIST { throw .setup(step: "create cgroup", path: leaf, reason: error.reason) }
                }
                for pid in pids {
                    do { try CgroupFile.write(leaf + "/cgroup.procs", String(pid)) } catch {
                        // The process ended since the list was read.
                        if error.code == ESRCH { continue }
                        throw .setup(step: "move process \(pid) into cgroup", path: leaf, reason: error.reason)
                    }
                }
            }
            do {
                try CgroupFile.write(control, missing.map { "+" + $0.rawValue }.joined(separator: " "))
                return
            } catch {
                if error.code == EBUSY && attempt < 3 { continue }
                throw .setup(step: "enable cgroup controllers", path: control,
                             reason: "cannot enable \(missing.map(\.rawValue).joined(separator: ", ")) (\(error.reason))")
            }
        }
    }
}

extension CgroupMount {
    /// `path` (a cgroup as /proc/PID/cgroup names it) relative to this mount's root, or nil
    /// when the mount shows only another part of the hierarchy.
    func relative(_ path: String) -> String? {
        if root == "/" { return path }
        if path == root { return "/" }
        return path.hasPrefix(root + "/") ? String(path.dropFirst(root.count)) : nil
    }
}

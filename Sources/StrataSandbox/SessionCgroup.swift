import Glibc

/// The cgroups one session runs in, with its `ResourceLimits` already written.
///
/// cgroup v2 is used when the cgroup2 mount offers every controller the limits need;
/// otherwise (hybrid machines) one v1 cgroup per needed controller hierarchy. Each
/// cgroup is `<hierarchy>/strata/<name>`. The session's first process joins them all
/// by writing "0" to each of `procsPaths` (its children follow it). Nothing is removed
/// automatically: call `remove()` once the session has ended. Immutable, so safe to
/// share between threads; several processes may create sessions at once.
public final class SessionCgroup: Sendable {
    /// The directory under each hierarchy's root that holds every session's cgroup.
    static let parentName = "strata"

    /// The session's name: its cgroup's directory name in each hierarchy.
    public let name: String
    public let limits: ResourceLimits
    /// The cgroup directories made for the session. Empty only when the limits are empty
    /// and there is no cgroup2 mount to track the session's processes in.
    public let directories: [String]
    /// Whether `directories` is one cgroup v2 directory (else v1 directories).
    let unified: Bool
    /// The cgroup whose memory controller enforces `limits.memoryBytes`.
    let memoryDirectory: String?

    init(name: String, limits: ResourceLimits, directories: [String], unified: Bool, memoryDirectory: String?) {
        self.name = name
        self.limits = limits
        self.directories = directories
        self.unified = unified
        self.memoryDirectory = memoryDirectory
    }

    /// The `cgroup.procs` file of each of `directories`.
    public var procsPaths: [String] { directories.map { $0 + "/cgroup.procs" } }

    /// Makes the session's cgroups and writes `limits` into them.
    ///
    /// `name` must be a single directory name (letters, digits, `.`, `_`, `-`). An empty
    /// leftover cgroup of the same name (a crashed strata's) is replaced; one that still
    /// holds processes is an error. Throws `.invalidSpec` for a bad name or limit, and
    /// `.setup` naming the file when a needed controller is mounted nowhere or a
    /// directory or limit cannot be written. Nothing is left behind when it throws.
    ///
    /// `delegated` (a rootless strata): the cgroup goes below the cgroup v2 delegated to this
    /// process (`DelegatedCgroup`) instead of a hierarchy's root, which only root may write.
    public static func create(name: String, limits: ResourceLimits, delegated: Bool = false) throws(SandboxError) -> SessionCgroup {
        try validate(name: name)
        try limits.validate()
        let needed = CgroupController.needed(by: limits)
        guard delegated else {
            return try create(name: name, limits: limits, layout: CgroupHierarchy.layout(for: needed))
        }
        let cgroup: DelegatedCgroup
        do { cgroup = try DelegatedCgroup.find(for: limits) } catch {
            throw .setup(step: "find a delegated cgroup", path: DelegatedCgroup.ownCgroupPath,
                         reason: "a rootless session has limits only in a cgroup v2 delegated to its user, and \(error.reason)")
        }
        try cgroup.prepare(needed)
        return try create(name: name, limits: limits, layout: .v2(CgroupPlacement(mountPoint: cgroup.directory, controllers: needed)))
    }

    static func create(name: String, limits: ResourceLimits, layout: CgroupLayout) throws(SandboxError) -> SessionCgroup {
        var made: [String] = []
        do throws(SandboxError) {
            switch layout {
            case .v2(let placement):
                try enable(placement.controllers, below: placement.mountPoint)
                let dir = try makeSessionDirectory(name, in: placement.mountPoint, enabling: placement.controllers)
                made.append(dir)
                try applyV2(limits, in: dir)
                return SessionCgroup(name: name, limits: limits, directories: made, unified: true,
                                     memoryDirectory: placement.controllers.contains(.memory) ? dir : nil)
            case .v1(let placements):
                var memoryDirectory: String?
                for placement in placements {
                    let dir = try makeSessionDirectory(name, in: placement.mountPoint, enabling: nil)
                    made.append(dir)
                    for controller in placement.controllers {
                        try applyV1(controller, limits, in: dir)
                        if controller == .memory { memoryDirectory = dir }
                    }
                }
                return SessionCgroup(name: name, limits: limits, directories: made, unified: false,
                                     memoryDirectory: memoryDirectory)
            }
        } catch {
            // Freshly made and not yet joined: empty, so rmdir succeeds.
            for dir in made.reversed() { rmdir(dir) }
            throw error
        }
    }

    /// Opens each of `procsPaths` for writing (O_CLOEXEC), for the session's child to join
    /// by writing "0". The caller closes the descriptors.
    public func openProcsFiles() throws(SandboxError) -> [Int32] {
        var fds: [Int32] = []
        for path in procsPaths {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd < 0 {
                let reason = CgroupIOError(code: errno).reason
                for opened in fds { close(opened) }
                throw .setup(step: "open cgroup.procs", path: path, reason: reason)
            }
            fds.append(fd)
        }
        return fds
    }

    /// How many of the session's processes the kernel's OOM killer killed for going over
    /// `limits.memoryBytes`; 0 when there is no memory limit or the kernel does not say.
    public func outOfMemoryKills() -> Int {
        guard let dir = memoryDirectory else { return 0 }
        if unified {
            guard let events = try? CgroupFile.read(dir + "/memory.events") else { return 0 }
            return CgroupFile.keyedValue(events, key: "oom_kill") ?? CgroupFile.keyedValue(events, key: "oom") ?? 0
        }
        // `oom_kill` appeared in memory.oom_control with Linux 4.13.
        guard let control = try? CgroupFile.read(dir + "/memory.oom_control") else { return 0 }
        return CgroupFile.keyedValue(control, key: "oom_kill") ?? 0
    }

    // MARK: - Making the cgroups

    private static func validate(name: String) throws(SandboxError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        if !allowed || name.isEmpty || name.utf8.count > 128 || name.hasPrefix(".") {
            throw .invalidSpec("cgroup name \(name.debugDescription) must be 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'")
        }
    }

    /// Makes `<mountPoint>/strata/<name>` and returns its path. With `enabling` (v2), the
    /// parent's children get those controllers first.
    private static func makeSessionDirectory(_ name: String, in mountPoint: String,
                                             enabling controllers: [CgroupController]?) throws(SandboxError) -> String {
        let parent = mountPoint + "/" + parentName
        let dir = parent + "/" + name
        // The shared parent may be made by another process at the same moment, or removed
        // by one cleaning up while empty: both are normal, so a vanished parent is remade.
        var attempt = 0
        while true {
            attempt += 1
            do { try CgroupFile.makeDirectory(parent) } catch {
                if error.code != EEXIST { throw .setup(step: "create cgroup", path: parent, reason: error.reason) }
            }
            if let controllers { try enable(controllers, below: parent) }
            do {
                try CgroupFile.makeDirectory(dir)
                return dir
            } catch {
                if error.code == ENOENT && attempt < 3 { continue }
                if error.code != EEXIST { throw .setup(step: "create cgroup", path: dir, reason: error.reason) }
            }
            // A leftover of a session that ended without remove(): rmdir only succeeds when
            // it holds no process, so a live session's cgroup is never taken over.
            do {
                try CgroupFile.removeDirectory(dir)
                try CgroupFile.makeDirectory(dir)
                return dir
            } catch {
                throw .setup(step: "create cgroup", path: dir,
                             reason: "a cgroup of this name already exists and is in use (\(error.reason)); "
                                 + "pick another session name or end the session using it")
            }
        }
    }

    /// Lets the children of the v2 cgroup `dir` use `controllers` (cgroup.subtree_control).
    private static func enable(_ controllers: [CgroupController], below dir: String) throws(SandboxError) {
        let path = dir + "/cgroup.subtree_control"
        let enabled: Set<Substring>
        do { enabled = Set(try CgroupFile.read(path).split(whereSeparator: { $0 == " " || $0 == "\n" })) } catch {
            throw .setup(step: "enable cgroup controllers", path: path, reason: error.reason)
        }
        let missing = controllers.filter { !enabled.contains(Substring($0.rawValue)) }
        if missing.isEmpty { return }
        do { try CgroupFile.write(path, missing.map { "+" + $0.rawValue }.joined(separator: " ")) } catch {
            // EBUSY: `dir` holds processes itself, and v2 forbids controllers on such inner cgroups.
            throw .setup(step: "enable cgroup controllers", path: path,
                         reason: "cannot enable \(missing.map(\.rawValue).joined(separator: ", ")) (\(error.reason))")
        }
    }

    private static func applyV2(_ limits: ResourceLimits, in dir: String) throws(SandboxError) {
        if let memoryBytes = limits.memoryBytes {
            try setLimit(dir + "/memory.max", String(memoryBytes))
            // Only present with swap accounting; without it there is no swap to deny.
            if CgroupFile.exists(dir + "/memory.swap.max") { try setLimit(dir + "/memory.swap.max", "0") }
        }
        if let pids = limits.pids {
            try setLimit(dir + "/pids.max", ResourceLimits.pidsMaxValue(pids))
        }
        if let cpus = limits.cpus {
            try setLimit(dir + "/cpu.max",
                         "\(ResourceLimits.cpuQuotaMicroseconds(cpus)) \(ResourceLimits.cpuPeriodMicroseconds)")
        }
    }

    private static func applyV1(_ controller: CgroupController, _ limits: ResourceLimits, in dir: String) throws(SandboxError) {
        switch controller {
        case .memory:
            guard let memoryBytes = limits.memoryBytes else { return }
            try setLimit(dir + "/memory.limit_in_bytes", String(memoryBytes))
            // memory+swap may not go below memory, so it is set second; equal means no swap.
            if CgroupFile.exists(dir + "/memory.memsw.limit_in_bytes") {
                try setLimit(dir + "/memory.memsw.limit_in_bytes", String(memoryBytes))
            }
        case .pids:
            guard let pids = limits.pids else { return }
            try setLimit(dir + "/pids.max", ResourceLimits.pidsMaxValue(pids))
        case .cpu:
            guard let cpus = limits.cpus else { return }
            try setLimit(dir + "/cpu.cfs_period_us", String(ResourceLimits.cpuPeriodMicroseconds))
            try setLimit(dir + "/cpu.cfs_quota_us", String(ResourceLimits.cpuQuotaMicroseconds(cpus)))
        }
    }

    private static func setLimit(_ path: String, _ value: String) throws(SandboxError) {
        do { try CgroupFile.write(path, value) } catch {
            throw .setup(step: "set cgroup limit", path: path, reason: "cannot write \(value) (\(error.reason))")
        }
    }
}

import Glibc

/// A cgroup controller a session limit needs.
enum CgroupController: String, Sendable, CaseIterable {
    case memory, pids, cpu

    /// The limit that needs it, as a user names it.
    var limitName: String {
        switch self {
        case .memory: return "memory limit"
        case .pids: return "pids limit"
        case .cpu: return "cpus limit"
        }
    }

    /// The controllers `limits` needs, in a fixed order (memory, pids, cpu).
    static func needed(by limits: ResourceLimits) -> [CgroupController] {
        var needed: [CgroupController] = []
        if limits.memoryBytes != nil { needed.append(.memory) }
        if limits.pids != nil { needed.append(.pids) }
        if limits.cpus != nil { needed.append(.cpu) }
        return needed
    }
}

/// One mounted cgroup hierarchy, as /proc/self/mountinfo lists it.
struct CgroupMount: Equatable, Sendable {
    enum Version: Equatable, Sendable {
        /// A v1 hierarchy with the controllers named in its super options.
        case v1(controllers: Set<String>)
        case v2
    }

    var version: Version
    var mountPoint: String
    var readOnly: Bool
    /// The part of the hierarchy the mount shows (mountinfo's root; "/" but in a cgroup namespace).
    var root: String = "/"
}

/// A mounted hierarchy together with the needed controllers it carries.
struct CgroupPlacement: Equatable, Sendable {
    /// Where session cgroups go (in its `strata/`): a hierarchy's mount point, or for a
    /// rootless strata the cgroup delegated to it.
    var mountPoint: String
    var controllers: [CgroupController]
}

/// Where a session's cgroups go: one v2 cgroup, or one cgroup per v1 hierarchy.
enum CgroupLayout: Equatable, Sendable {
    case v2(CgroupPlacement)
    /// Distinct hierarchies, in the order of the controllers first needing them.
    case v1([CgroupPlacement])
}

/// Finds the cgroup hierarchies this process sees and picks the ones a session uses.
enum CgroupHierarchy {
    static let mountInfoPath = "/proc/self/mountinfo"

    /// The cgroup and cgroup2 mounts in mountinfo `text`, in the order listed.
    static func parseMountInfo(_ text: String) -> [CgroupMount] {
        // Bytes, not Characters: this runs on every session start, and only cgroup lines
        // (a handful among possibly hundreds of mounts) are worth decoding.
        let space = UInt8(ascii: " "), comma = UInt8(ascii: ",")
        var mounts: [CgroupMount] = []
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: space, omittingEmptySubsequences: false)
            // id parent dev root mountpoint options [optional…] - fstype source superoptions
            guard fields.count >= 10,
                  let dash = fields.dropFirst(6).firstIndex(where: { $0.elementsEqual("-".utf8) }),
                  dash + 3 < fields.count else { continue }
            let fstype = fields[dash + 1]
            let isV2 = fstype.elementsEqual("cgroup2".utf8)
            guard isV2 || fstype.elementsEqual("cgroup".utf8) else { continue }
            let mountPoint = unescape(fields[4])
            let readOnly = fields[5].split(separator: comma).contains { $0.elementsEqual("ro".utf8) }
            if isV2 {
                mounts.append(CgroupMount(version: .v2, mountPoint: mountPoint, readOnly: readOnly, root: unescape(fields[3])))
            } else {
                let controllers = Set(fields[dash + 3].split(separator: comma).map { String(decoding: $0, as: UTF8.self) })
                mounts.append(CgroupMount(version: .v1(controllers: controllers), mountPoint: mountPoint, readOnly: readOnly))
            }
        }
        return mounts
    }

    /// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash).
    private static func unescape(_ field: Substring.UTF8View) -> String {
        let bytes = Array(field)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count {
                let digits = bytes[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                    out.append(digits.reduce(0) { $0 &* 8 &+ ($1 - UInt8(ascii: "0")) })
                    i += 4
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Chooses the hierarchies for `needed`: the cgroup2 mount when its root offers every
    /// needed controller (`v2Controllers` reads a mount root's `cgroup.controllers`),
    /// else one v1 hierarchy per controller. Writable mounts are preferred to read-only
    /// ones of the same kind. Throws when some controller is mounted nowhere.
    static func layout(for needed: [CgroupController], mounts: [CgroupMount],
                       v2Controllers: (String) -> Set<String>) throws(SandboxError) -> CgroupLayout {
        let ordered = mounts.filter { !$0.readOnly } + mounts.filter { $0.readOnly }
        if let v2 = ordered.first(where: { $0.version == .v2 }) {
            let offered = needed.isEmpty ? [] : v2Controllers(v2.mountPoint)
            if needed.allSatisfy({ offered.contains($0.rawValue) }) {
                return .v2(CgroupPlacement(mountPoint: v2.mountPoint, controllers: needed))
            }
        }
        var hierarchies: [CgroupPlacement] = []
        for controller in needed {
            let mount = ordered.first { mount in
                if case .v1(let controllers) = mount.version { return controllers.contains(controller.rawValue) }
                return false
            }
            guard let mount else {
                throw .setup(step: "find cgroup controller", path: mountInfoPath,
                             reason: "no mounted cgroup hierarchy has the \(controller.rawValue) controller, "
                                 + "so the \(controller.limitName) cannot be applied; mount it or drop the limit")
            }
            if let index = hierarchies.firstIndex(where: { $0.mountPoint == mount.mountPoint }) {
                hierarchies[index].controllers.append(controller)
            } else {
                hierarchies.append(CgroupPlacement(mountPoint: mount.mountPoint, controllers: [controller]))
            }
        }
        return .v1(hierarchies)
    }

    /// The layout for `needed` on this machine.
    static func layout(for needed: [CgroupController]) throws(SandboxError) -> CgroupLayout {
        let text: String
        do { text = try CgroupFile.read(mountInfoPath) } catch {
            throw .setup(step: "find cgroup controller", path: mountInfoPath, reason: error.reason)
        }
        return try layout(for: needed, mounts: parseMountInfo(text)) { mountPoint in
            let list = (try? CgroupFile.read(mountPoint + "/cgroup.controllers")) ?? ""
            return Set(list.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
    }
}

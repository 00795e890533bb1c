/// A Linux capability (`capabilities(7)`), numbered as the kernel numbers them.
///
/// Covers every capability up to `CAP_CHECKPOINT_RESTORE` (40, Linux 5.9); the raw value
/// is the bit number `capset(2)` and the bounding set use.
public enum Capability: UInt8, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case chown = 0
    case dacOverride = 1
    case dacReadSearch = 2
    case fowner = 3
    case fsetid = 4
    case kill = 5
    case setgid = 6
    case setuid = 7
    case setpcap = 8
    case linuxImmutable = 9
    case netBindService = 10
    case netBroadcast = 11
    case netAdmin = 12
    case netRaw = 13
    case ipcLock = 14
    case ipcOwner = 15
    case sysModule = 16
    case sysRawio = 17
    case sysChroot = 18
    case sysPtrace = 19
    case sysPacct = 20
    case sysAdmin = 21
    case sysBoot = 22
    case sysNice = 23
    case sysResource = 24
    case sysTime = 25
    case sysTtyConfig = 26
    case mknod = 27
    case lease = 28
    case auditWrite = 29
    case auditControl = 30
    case setfcap = 31
    case macOverride = 32
    case macAdmin = 33
    case syslog = 34
    case wakeAlarm = 35
    case blockSuspend = 36
    case auditRead = 37
    case perfmon = 38
    case bpf = 39
    case checkpointRestore = 40

    /// The names after `CAP_`, indexed by raw value.
    private static let shortNames: [String] = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ]

    /// The kernel's name, such as `"CAP_CHOWN"`.
    public var name: String { "CAP_" + Self.shortNames[Int(rawValue)] }

    /// The name without `CAP_`, such as `"CHOWN"`: how `docker run --cap-add` is usually written.
    public var shortName: String { Self.shortNames[Int(rawValue)] }

    public var description: String { name }

    /// A capability as Docker accepts it: `"NET_ADMIN"` or `"CAP_NET_ADMIN"`, in any case.
    /// `"ALL"` is not a capability; `CapabilityList` holds it.
    public init?(name: String) {
        var upper = name.uppercased()
        if upper.hasPrefix("CAP_") { upper.removeFirst(4) }
        guard let index = Self.shortNames.firstIndex(of: upper) else { return nil }
        self.init(rawValue: UInt8(index))
    }

    public static func < (lhs: Capability, rhs: Capability) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The set a Docker container gets when it adds and drops nothing (moby's
    /// `oci/caps.DefaultCapabilities`), in moby's order.
    public static let dockerDefault: [Capability] = [
        .chown, .dacOverride, .fsetid, .fowner, .mknod, .netRaw, .setgid, .setuid, .setfcap, .setpcap,
        .netBindService, .sysChroot, .kill, .auditWrite,
    ]

    /// What a session holds after `add` and `drop` are applied to `dockerDefault`, with
    /// Docker's rules (moby `TweakCapabilities`): adding ALL grants every capability but
    /// those dropped; dropping ALL keeps only those added; otherwise the default set
    /// minus `drop` plus `add`. Sorted by number, each capability once.
    public static func effective(add: CapabilityList, drop: CapabilityList) -> [Capability] {
        var result: Set<Capability>
        switch (add, drop) {
        case (.all, .all):
            // Docker lets "add ALL" win; the manifest decoder refuses this pair anyway.
            result = Set(allCases)
        case (.all, .only(let dropped)):
            result = Set(allCases).subtracting(dropped)
        case (.only(let added), .all):
            result = Set(added)
        case (.only(let added), .only(let dropped)):
            result = Set(dockerDefault).subtracting(dropped).union(added)
        }
        return result.sorted()
    }
}

/// Capabilities as a manifest lists them under `add` or `drop`: either every capability
/// (`"ALL"`) or exactly the ones named.
public enum CapabilityList: Sendable, Equatable {
    case all
    /// The named capabilities, in the manifest's order, each once; `.only([])` when none.
    case only([Capability])

    /// True when the list names nothing (the manifest did not add or drop anything).
    public var isEmpty: Bool {
        if case .only(let capabilities) = self { return capabilities.isEmpty }
        return false
    }
}

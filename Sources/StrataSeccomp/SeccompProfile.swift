/// A seccomp profile in Docker's format (moby/profiles `seccomp/default.json`): a default
/// action and an ordered list of rules, some of which apply only with certain capabilities,
/// on certain architectures or from a kernel version on.
///
/// A plain value: decoding has validated every field, so any profile can be compiled
/// (`SeccompFilter.compile`) for any capability set and kernel.
public struct SeccompProfile: Sendable, Equatable {
    /// What happens to a syscall no applicable rule matches (`defaultAction` with `defaultErrnoRet`).
    public var defaultAction: SeccompAction
    /// The profile's flat `architectures` list: every one is added to the filter.
    public var architectures: [SeccompArchitecture]
    /// The profile's `archMap`: only the entry of the native architecture is used, for it
    /// and its sub-architectures. A profile has this or `architectures`, not both.
    public var architectureMap: [ArchitectureMapping]
    /// `flags` (`SECCOMP_FILTER_FLAG_LOG`, `…_SPEC_ALLOW`, `…_WAIT_KILLABLE_RECV`): they are
    /// arguments of `seccomp(2)` when the filter is loaded, not part of the BPF program.
    public var flags: [String]
    public var rules: [SeccompRule]

    public init(defaultAction: SeccompAction, architectures: [SeccompArchitecture] = [],
                architectureMap: [ArchitectureMapping] = [], flags: [String] = [], rules: [SeccompRule] = []) {
        self.defaultAction = defaultAction; self.architectures = architectures
        self.architectureMap = architectureMap; self.flags = flags; self.rules = rules
    }

    /// The `flags` values runc knows (`SECCOMP_FILTER_FLAG_TSYNC` is accepted too: threads are
    /// synchronized anyway since the filter is loaded before `execve`).
    public static let knownFlags = [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
}

/// One `archMap` entry: an architecture and the compat architectures its kernel also runs
/// (x86_64 runs x86 and x32 binaries).
public struct ArchitectureMapping: Sendable, Equatable {
    public var architecture: SeccompArchitecture
    public var subArchitectures: [SeccompArchitecture]

    public init(architecture: SeccompArchitecture, subArchitectures: [SeccompArchitecture]) {
        self.architecture = architecture; self.subArchitectures = subArchitectures
    }
}

/// One entry of `syscalls`: an action for some syscall names, possibly only when the
/// arguments compare as listed, and only where `includes` holds and `excludes` does not.
public struct SeccompRule: Sendable, Equatable {
    /// Names as the kernel spells them; names the installed libseccomp does not know are
    /// skipped when compiling, as runc skips them.
    public var names: [String]
    public var action: SeccompAction
    /// All must hold (runc splits them into one rule each when two test the same argument).
    public var arguments: [SeccompArgument]
    public var includes: SeccompCondition
    public var excludes: SeccompCondition

    public init(names: [String], action: SeccompAction, arguments: [SeccompArgument] = [],
                includes: SeccompCondition = SeccompCondition(), excludes: SeccompCondition = SeccompCondition()) {
        self.names = names; self.action = action; self.arguments = arguments
        self.includes = includes; self.excludes = excludes
    }
}

/// A comparison of one syscall argument (`args` entry).
public struct SeccompArgument: Sendable, Equatable {
    /// 0 to 5.
    public var index: Int
    /// The operand; for `.maskedEqual` the mask.
    public var value: UInt64
    /// For `.maskedEqual` the value the masked argument must equal; unused otherwise.
    public var valueTwo: UInt64
    public var op: SeccompOperator

    public init(index: Int, value: UInt64, valueTwo: UInt64 = 0, op: SeccompOperator) {
        self.index = index; self.value = value; self.valueTwo = valueTwo; self.op = op
    }
}

/// The comparisons a profile's `op` names.
public enum SeccompOperator: String, Sendable, Hashable, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    /// `(argument & value) == valueTwo`.
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

/// An `includes` or `excludes` object. An empty condition constrains nothing.
///
/// Semantics are moby's: a rule applies when the session has *all* of `includes.caps`, the
/// native architecture is in `includes.arches` and the kernel is at least
/// `includes.minKernel`; it is dropped when the session has *any* of `excludes.caps`, the
/// native architecture is in `excludes.arches` or the kernel is at least `excludes.minKernel`.
public struct SeccompCondition: Sendable, Equatable {
    /// Capability names such as `"CAP_SYS_ADMIN"`.
    public var capabilities: [String]
    /// Architecture names as `SeccompArchitecture.dockerName` spells them (`"amd64"`, `"x32"`).
    public var architectures: [String]
    public var minimumKernel: KernelVersion?

    public init(capabilities: [String] = [], architectures: [String] = [], minimumKernel: KernelVersion? = nil) {
        self.capabilities = capabilities; self.architectures = architectures; self.minimumKernel = minimumKernel
    }

    public var isEmpty: Bool { capabilities.isEmpty && architectures.isEmpty && minimumKernel == nil }
}

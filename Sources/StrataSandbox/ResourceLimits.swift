/// How much of the machine a session may use. `nil` means "no limit"; the limits are
/// enforced by the session's cgroup (`SessionCgroup`), so they cover every process the
/// session starts, not just its first one.
public struct ResourceLimits: Sendable, Equatable {
    /// Memory the session's processes may hold, in bytes; swap is not granted on top.
    /// Going over it gets a process killed by the kernel's OOM killer.
    public var memoryBytes: UInt64?
    /// How many processes and threads the session may have at once; `fork` and
    /// `clone` beyond it fail with EAGAIN.
    public var pids: Int?
    /// CPU time per wall-clock time: 0.5 is half of one core, 2 is two cores' worth.
    public var cpus: Double?

    public init(memoryBytes: UInt64? = nil, pids: Int? = nil, cpus: Double? = nil) {
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpus = cpus
    }

    /// No limit at all: the session needs no cgroup controller.
    public var isEmpty: Bool { memoryBytes == nil && pids == nil && cpus == nil }
}

extension ResourceLimits {
    /// The CFS period both cgroup versions are given; quotas are expressed against it.
    static let cpuPeriodMicroseconds = 100_000
    /// The kernel refuses CFS quotas under 1 ms.
    static let minimumCPUQuotaMicroseconds = 1_000
    /// Far more than any machine has, and small enough that the quota stays a sane integer.
    static let maximumCPUs = 10_000.0
    /// pids.max takes numbers below PID_MAX_LIMIT + 1 only; anything larger means no limit.
    static let pidsMaxLimit = 4 * 1024 * 1024

    /// The CFS quota for `cpus`, in microseconds per `cpuPeriodMicroseconds`.
    static func cpuQuotaMicroseconds(_ cpus: Double) -> Int {
        max(minimumCPUQuotaMicroseconds, Int((cpus * Double(cpuPeriodMicroseconds)).rounded()))
    }

    /// The pids.max value for `pids`.
    static func pidsMaxValue(_ pids: Int) -> String {
        pids >= pidsMaxLimit ? "max" : String(pids)
    }

    /// Rejects limits no kernel would accept, before any cgroup is made.
    func validate() throws(SandboxError) {
        if let memoryBytes, memoryBytes == 0 {
            throw .invalidSpec("memory limit 0 leaves no room to run anything; give a positive number of bytes")
        }
        if let pids, pids < 1 {
            throw .invalidSpec("pids limit \(pids) leaves no room to run anything; give at least 1")
        }
        if let cpus, !(cpus > 0 && cpus <= Self.maximumCPUs) {
            throw .invalidSpec("cpus limit \(cpus) is out of range; give a number above 0 and at most \(Int(Self.maximumCPUs))")
        }
    }
}

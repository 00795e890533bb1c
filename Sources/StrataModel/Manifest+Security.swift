extension Manifest {
    /// `"security": {…}` as written: how much a session may do, in Docker's terms.
    ///
    /// Guarantees: no capability is both added and dropped, and neither list names a
    /// capability twice. Fields the manifest left out stay nil (or empty); the session
    /// applies Docker's defaults (its capability set, seccomp profile, `no_new_privs`).
    public struct Security: Sendable, Equatable {
        /// Which seccomp filter the session's process runs under.
        public enum Seccomp: Sendable, Equatable {
            /// Docker's default profile.
            case `default`
            /// No filter (`--security-opt seccomp=unconfined`).
            case unconfined
            /// A Docker-format profile file, relative to the manifest as written (or absolute).
            case profile(path: String)
        }

        /// `capabilities.add`: granted on top of Docker's default set.
        public var capabilitiesAdd: CapabilityList
        /// `capabilities.drop`: removed from Docker's default set.
        public var capabilitiesDrop: CapabilityList
        public var seccomp: Seccomp?
        public var noNewPrivileges: Bool?
        /// Mount the session's root read-only (`docker run --read-only`).
        public var readonlyRoot: Bool?

        public init(capabilitiesAdd: CapabilityList = .only([]), capabilitiesDrop: CapabilityList = .only([]),
                    seccomp: Seccomp? = nil, noNewPrivileges: Bool? = nil, readonlyRoot: Bool? = nil) {
            self.capabilitiesAdd = capabilitiesAdd; self.capabilitiesDrop = capabilitiesDrop
            self.seccomp = seccomp; self.noNewPrivileges = noNewPrivileges; self.readonlyRoot = readonlyRoot
        }

        /// The capabilities a session with this security section holds (Docker's rules).
        public var effectiveCapabilities: [Capability] {
            Capability.effective(add: capabilitiesAdd, drop: capabilitiesDrop)
        }
    }

    /// `"limits": {…}` as written: resource limits of a session, in Docker's units.
    ///
    /// Guarantees: every value present is within the range the decoder checks
    /// (memory at least 4 MiB, pids and nofile positive, cpus positive with at most
    /// three decimals); absent values stay nil and mean "no limit".
    public struct Limits: Sendable, Equatable {
        /// Memory limit in bytes (`--memory`).
        public var memoryBytes: UInt64?
        /// Maximum number of processes and threads (`--pids-limit`).
        public var pids: Int?
        /// CPU time as a number of CPUs (`--cpus`), such as 1.5.
        public var cpus: Double?
        /// Open-file limit, soft and hard (`--ulimit nofile=N:N`).
        public var nofile: UInt64?

        public init(memoryBytes: UInt64? = nil, pids: Int? = nil, cpus: Double? = nil, nofile: UInt64? = nil) {
            self.memoryBytes = memoryBytes; self.pids = pids; self.cpus = cpus; self.nofile = nofile
        }
    }
}

/// A compiled seccomp filter: the raw array of the kernel's `struct sock_filter`
/// (8 bytes each, host byte order), ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
///
/// Immutable; the same profile, capabilities, kernel version and libseccomp give the same bytes.
public struct SeccompProgram: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The size of one `struct sock_filter`.
    public static let instructionSize = 8
    /// The kernel's `BPF_MAXINSNS`: a longer program is refused by `seccomp(2)`.
    public static let maximumInstructions = 4096

    public var instructionCount: Int { bytes.count / Self.instructionSize }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSeccomp

/// A libseccomp filter being built: owns one `scmp_filter_ctx`, released when the value goes.
///
/// It only builds and exports BPF; nothing here loads a filter into this process.
/// Not thread-safe: one compilation uses one filter on one thread.
public final class SeccompFilter {
    private let context: scmp_filter_ctx

    init(defaultAction: SeccompAction) throws(SeccompError) {
        guard let context = seccomp_init(defaultAction.libseccompValue) else {
            throw .libseccomp(function: "seccomp_init", subject: "default action \(defaultAction)", errno: EINVAL)
        }
        self.context = context
    }

    deinit { seccomp_release(context) }

    /// The installed libseccomp's version, such as `2.5.4`.
    public static var libraryVersion: String {
        guard let version = seccomp_version() else { return "(unknown version)" }
        return "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)"
    }

    /// The architecture this process runs as, in a profile's terms.
    static func nativeArchitecture() throws(SeccompError) -> SeccompArchitecture {
        let native = seccomp_arch_native()
        for architecture in SeccompArchitecture.allCases where token(of: architecture) == native {
            return architecture
        }
        throw .unknownNativeArchitecture(token: native)
    }

    /// libseccomp's token for an architecture; nil when this libseccomp cannot filter it.
    static func token(of architecture: SeccompArchitecture) -> UInt32? {
        let token = seccomp_arch_resolve_name(architecture.libseccompName)
        return token == 0 ? nil : token
    }

    /// The syscall number libseccomp uses for `name` (negative pseudo-numbers for syscalls the
    /// native architecture lacks but another has, such as `chown32`); nil when unknown.
    static func syscallNumber(_ name: String) -> Int32? {
        let number = seccomp_syscall_resolve_name(name)
        return number == __NR_SCMP_ERROR ? nil : number
    }

    func setAttribute(_ attribute: scmp_filter_attr, _ value: UInt32, name: String) throws(SeccompError) {
        let rc = seccomp_attr_set(context, attribute, value)
        if rc < 0 { throw .libseccomp(function: "seccomp_attr_set", subject: "\(name)=\(value)", errno: -rc) }
    }

    func add(_ architecture: SeccompArchitecture) throws(SeccompError) {
        guard let token = Self.token(of: architecture) else { throw .unsupportedArchitecture(architecture) }
        let rc = seccomp_arch_add(context, token)
        // The native architecture is in every new filter already.
        if rc < 0 && rc != -EEXIST {
            throw .libseccomp(function: "seccomp_arch_add", subject: "architecture \(architecture.rawValue)", errno: -rc)
        }
    }

    /// Adds one rule; it matches when every comparison holds (none: always).
    func addRule(syscall number: Int32, name: String, action: SeccompAction,
                 comparisons: [SeccompArgument]) throws(SeccompError) {
        let conditions = comparisons.map { argument in
            scmp_arg_cmp(arg: UInt32(argument.index), op: argument.op.libseccompValue,
                         datum_a: argument.value, datum_b: argument.valueTwo)
        }
        let rc = conditions.withUnsafeBufferPointer { buffer in
            seccomp_rule_add_array(context, action.libseccompValue, number, UInt32(buffer.count), buffer.baseAddress)
        }
        if rc < 0 { throw .libseccomp(function: "seccomp_rule_add_array", subject: "syscall \"\(name)\"", errno: -rc) }
    }

    /// The filter as the kernel's BPF. libseccomp 2.5 exports only to a file descriptor: an
    /// unlinked temporary file takes any size without the deadlock a full pipe would cause.
    func export() throws(SeccompError) -> SeccompProgram {
        guard let file = tmpfile() else { throw .export(step: "tmpfile", errno: errno) }
        defer { fclose(file) }
        let fd = fileno(file)
        let rc = seccomp_export_bpf(context, fd)
        if rc < 0 { throw .libseccomp(function: "seccomp_export_bpf", subject: "the filter", errno: -rc) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .export(step: "fstat", errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, raw.count - done, off_t(done))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .export(step: "pread", errno: count < 0 ? errno : EIO) }
            done += count
        }
        guard bytes.count % SeccompProgram.instructionSize == 0 else { throw .export(step: "size check", errno: EIO) }
        return SeccompProgram(bytes: bytes)
    }
}

extension SeccompOperator {
    var libseccompValue: scmp_compare {
        switch self {
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .equal: return SCMP_CMP_EQ
        case .greaterOrEqual: return SCMP_CMP_GE
        case .greaterThan: return SCMP_CMP_GT
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }
}

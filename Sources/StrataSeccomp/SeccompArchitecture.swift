/// An architecture as a Docker seccomp profile names it (`"SCMP_ARCH_X86_64"`).
///
/// Covers the names runc accepts; whether the installed libseccomp can filter one is only
/// asked when a filter actually needs it (libseccomp 2.5.4 lacks LoongArch, m68k and SuperH).
public enum SeccompArchitecture: String, Sendable, Hashable, CaseIterable {
    case x86 = "SCMP_ARCH_X86"
    case x86_64 = "SCMP_ARCH_X86_64"
    case x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case mips = "SCMP_ARCH_MIPS"
    case mips64 = "SCMP_ARCH_MIPS64"
    case mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL"
    case mipsel64 = "SCMP_ARCH_MIPSEL64"
    case mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC"
    case ppc64 = "SCMP_ARCH_PPC64"
    case ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390"
    case s390x = "SCMP_ARCH_S390X"
    case parisc = "SCMP_ARCH_PARISC"
    case parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64"
    case loongarch64 = "SCMP_ARCH_LOONGARCH64"
    case m68k = "SCMP_ARCH_M68K"
    case sh = "SCMP_ARCH_SH"
    case sheb = "SCMP_ARCH_SHEB"

    /// The name `seccomp_arch_resolve_name` takes.
    var libseccompName: String {
        switch self {
        case .x86_64: return "x86_64"
        case .aarch64: return "aarch64"
        default: return dockerName
        }
    }

    /// The name a profile's `includes.arches` / `excludes.arches` use for this architecture
    /// when it is the native one: moby compares Go's architecture names (`amd64`, `arm64`),
    /// translated to libseccomp's spelling for the rest.
    public var dockerName: String {
        switch self {
        case .x86: return "x86"
        case .x86_64: return "amd64"
        case .x32: return "x32"
        case .arm: return "arm"
        case .aarch64: return "arm64"
        case .mips: return "mips"
        case .mips64: return "mips64"
        case .mips64n32: return "mips64n32"
        case .mipsel: return "mipsel"
        case .mipsel64: return "mipsel64"
        case .mipsel64n32: return "mipsel64n32"
        case .ppc: return "ppc"
        case .ppc64: return "ppc64"
        case .ppc64le: return "ppc64le"
        case .s390: return "s390"
        case .s390x: return "s390x"
        case .parisc: return "parisc"
        case .parisc64: return "parisc64"
        case .riscv64: return "riscv64"
        case .loongarch64: return "loongarch64"
        case .m68k: return "m68k"
        case .sh: return "sh"
        case .sheb: return "sheb"
        }
    }
}

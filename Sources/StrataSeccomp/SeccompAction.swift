/// What the kernel does when a rule (or the default action) matches a syscall.
///
/// `SCMP_ACT_KILL` is libseccomp's older name for `SCMP_ACT_KILL_THREAD` and decodes to
/// `.killThread`. `SCMP_ACT_NOTIFY` (a user-space agent) is not supported.
public enum SeccompAction: Sendable, Hashable {
    case allow
    /// Fail the syscall with this errno without running it.
    case errno(UInt16)
    case killThread
    case killProcess
    /// Send `SIGSYS`.
    case trap
    /// Notify a ptrace tracer, passing this value; without a tracer the syscall fails with `ENOSYS`.
    case trace(UInt16)
    /// Run the syscall and log it.
    case log

    /// The names a profile's `action` and `defaultAction` accept.
    public static let profileNames = [
        "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
    ]

    /// Errno and trace actions without `errnoRet` use `EPERM`, as runc does.
    static let defaultReturnCode: UInt16 = 1

    /// The action for a profile name and its `errnoRet`; nil for an unknown name.
    static func named(_ name: String, returnCode: UInt16?) -> SeccompAction? {
        switch name {
        case "SCMP_ACT_ALLOW": return .allow
        case "SCMP_ACT_ERRNO": return .errno(returnCode ?? defaultReturnCode)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return .killThread
        case "SCMP_ACT_KILL_PROCESS": return .killProcess
        case "SCMP_ACT_TRAP": return .trap
        case "SCMP_ACT_TRACE": return .trace(returnCode ?? defaultReturnCode)
        case "SCMP_ACT_LOG": return .log
        default: return nil
        }
    }

    /// Only these two actions carry a value, so only they may have `errnoRet`.
    static func takesReturnCode(_ name: String) -> Bool {
        name == "SCMP_ACT_ERRNO" || name == "SCMP_ACT_TRACE"
    }

    /// libseccomp's action value: the kernel's `SECCOMP_RET_*` with the data in the low 16 bits
    /// (the header's `SCMP_ACT_ERRNO(x)` and `SCMP_ACT_TRACE(x)` are macros Swift cannot call).
    var libseccompValue: UInt32 {
        switch self {
        case .allow: return 0x7fff_0000
        case .errno(let code): return 0x0005_0000 | UInt32(code)
        case .killThread: return 0x0000_0000
        case .killProcess: return 0x8000_0000
        case .trap: return 0x0003_0000
        case .trace(let code): return 0x7ff0_0000 | UInt32(code)
        case .log: return 0x7ffc_0000
        }
    }
}

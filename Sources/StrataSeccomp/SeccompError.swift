#if canImport(Glibc)
import Glibc
import StrataOS
#elseif canImport(Musl)
import Musl
#endif

import StrataJSON

/// Why a seccomp profile could not be read or turned into a BPF program.
///
/// Every case renders as one sentence that names what it is about (the profile file and the
/// JSON path, the architecture, the syscall) and says what to do.
public enum SeccompError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The profile is not valid JSON or not a valid Docker seccomp profile.
    /// `expected` says what would be accepted at `path`.
    case invalidProfile(file: String, location: SourceLocation, path: JSONPath, problem: String, expected: String?)
    /// The profile asks for an architecture this build of libseccomp cannot filter.
    case unsupportedArchitecture(SeccompArchitecture)
    /// This machine's architecture is not one a Docker profile can name.
    case unknownNativeArchitecture(token: UInt32)
    /// A libseccomp call failed; `subject` is what it was working on (a syscall, an attribute).
    case libseccomp(function: String, subject: String, errno: Int32)
    /// The filter has more instructions than the kernel loads (`BPF_MAXINSNS`).
    case programTooLarge(instructions: Int, limit: Int)
    /// Reading the exported program back from its memfd failed.
    case export(step: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidProfile(let file, let location, let path, let problem, let expected):
            return "\(file):\(location.line):\(location.column): \(path): \(problem)"
                + (expected.map { " (expected \($0))" } ?? "")
        case .unsupportedArchitecture(let arch):
            return "the seccomp profile lists architecture \(arch.rawValue), which libseccomp "
                + "\(SeccompFilter.libraryVersion) cannot filter; remove it from the profile or install a newer libseccomp"
        case .unknownNativeArchitecture(let token):
            return "this machine's architecture (libseccomp token 0x\(String(token, radix: 16))) has no Docker "
                + "seccomp name, so no profile can be compiled for it; run without a seccomp profile"
        case .libseccomp(let function, let subject, let errno):
            return "libseccomp's \(function) failed for \(subject) with errno \(errno) (\(SystemError.text(errno))); "
                + "check the profile entry for it"
        case .programTooLarge(let instructions, let limit):
            return "the seccomp filter compiles to \(instructions) BPF instructions but the kernel loads at most "
                + "\(limit); merge rules or drop conditional arguments from the profile"
        case .export(let step, let errno):
            return "exporting the seccomp filter failed at \(step) with errno \(errno) (\(SystemError.text(errno))); "
                + "check that memfd_create works here"
        }
    }
}


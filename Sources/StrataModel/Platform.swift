import Glibc

/// The OS and CPU architecture a lockfile was resolved for, in OCI's words.
public struct Platform: Sendable, Equatable, CustomStringConvertible {
    public var os: String
    public var architecture: String

    public init(os: String, architecture: String) { self.os = os; self.architecture = architecture }

    /// The machine this process runs on (`uname -m` mapped to OCI/Debian names).
    public static let current: Platform = {
        var names = utsname()
        uname(&names)
        let machine = withUnsafeBytes(of: &names.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let architecture = switch machine {
        case "x86_64": "amd64"
        case "aarch64": "arm64"
        case "i686", "i386": "386"
        case "armv7l": "arm"
        default: machine
        }
        return Platform(os: "linux", architecture: architecture)
    }()

    public var description: String { "\(os)/\(architecture)" }
}

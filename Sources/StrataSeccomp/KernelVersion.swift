#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A kernel's version as far as seccomp profiles look at it: `6.1.0-18-amd64` is 6.1.
public struct KernelVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }

    /// Reads the leading `MAJOR.MINOR` of a release string as moby does (`"%d.%d"`), so
    /// `"3.12-1-amd64"` and `"3.12.25-gentoo"` are both 3.12; nil when it does not start so.
    public init?(release: String) {
        let bytes = Array(release.utf8)
        var index = 0
        func number() -> Int? {
            let start = index
            var value = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, index - start < 9 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
            }
            return index > start ? value : nil
        }
        guard let major = number(), index < bytes.count, bytes[index] == 0x2E else { return nil }
        index += 1
        guard let minor = number() else { return nil }
        self.init(major: major, minor: minor)
    }

    /// The running kernel's version from `uname(2)`. Should the release string not start
    /// with `MAJOR.MINOR` (never seen on Linux), 0.0: rules with a `minKernel` then do not apply.
    public static func current() -> KernelVersion {
        var names = utsname()
        guard uname(&names) == 0 else { return KernelVersion(major: 0, minor: 0) }
        let release = withUnsafeBytes(of: &names.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return KernelVersion(release: release) ?? KernelVersion(major: 0, minor: 0)
    }

    public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }
}

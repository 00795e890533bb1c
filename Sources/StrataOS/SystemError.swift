import Glibc

/// A failed system call: what was attempted, on which path, and the errno it gave.
///
/// The one place errno becomes text (`reason`): every module that reports a system
/// failure to a user words it through this type.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call or step that failed (`open`, `rename from /a`, `mkdir`).
    public var operation: String
    /// The path the call was about (a display path for descriptor-relative calls).
    public var path: String
    public var errno: Int32

    /// `errno` defaults to the calling thread's current errno: build the value right
    /// after the call that failed.
    public init(_ operation: String, path: String, errno code: Int32 = Glibc.errno) {
        self.operation = operation; self.path = path; self.errno = code
    }

    /// The errno as a user reads it: "No such file or directory".
    public var reason: String { SystemError.text(errno) }

    /// `PATH: OPERATION: REASON`.
    public var description: String { "\(path): \(operation): \(reason)" }

    /// `strerror` for `code`, as one phrase.
    public static func text(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// Whether the path did not exist (ENOENT).
    public var isMissing: Bool { errno == ENOENT }
}

import Glibc
import StrataOS
import StrataModel

/// Why a download failed. Each case names the download's path; the ones about mirrors carry
/// what went wrong at each mirror, in the order they were tried.
public enum FetchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No mirror served the file and none served wrong bytes: unreachable, HTTP errors,
    /// missing files, transfers cut off.
    case unavailable(path: String, failures: [MirrorFailure])
    /// A mirror served bytes whose sha256 is not the expected one (at `url`), and no mirror
    /// served the expected bytes. The other mirrors' failures are in `failures` too.
    case digestMismatch(path: String, expected: Digest, actual: Digest, url: String, failures: [MirrorFailure])
    /// A mirror served a different number of bytes than expected (at `url`; an `actual` above
    /// `expected` means "at least that many": the transfer was stopped there), no mirror served
    /// a wrong digest, and none the expected bytes.
    case sizeMismatch(path: String, expected: Int64, actual: Int64, url: String, failures: [MirrorFailure])
    /// The download's path is not a plain relative path (empty, absolute, with `.`, `..` or
    /// empty components, or control characters): it is never sent to a mirror.
    case invalidPath(String)
    /// No mirror was given.
    case noMirrors(path: String)
    /// The destination could not be created, written or closed (`operation` failed with
    /// `errno`): a local problem, so no other mirror is tried.
    case destination(path: String, destination: String, operation: String, errno: Int32)
    /// A registry refused or could not answer a request: one sentence about `path` (the image).
    case registry(path: String, message: String)

    /// The download's path.
    public var path: String {
        switch self {
        case .unavailable(let path, _), .digestMismatch(let path, _, _, _, _), .sizeMismatch(let path, _, _, _, _),
             .invalidPath(let path), .noMirrors(let path), .destination(let path, _, _, _), .registry(let path, _):
            return path
        }
    }

    static let mirrorHint = "(--mirror, STRATA_DEBIAN_MIRROR)"

    public var description: String {
        switch self {
        case .unavailable(let path, let failures):
            return "cannot download \(path): \(Self.list(failures)); check the mirror \(Self.mirrorHint) or the network"
        case .digestMismatch(let path, let expected, let actual, let url, let failures):
            return "\(path) from \(url) has the digest \(actual), not the expected \(expected)\(Self.others(failures, url))"
                + "; the mirror is corrupt, out of sync or tampered with: use another mirror \(Self.mirrorHint)"
        case .sizeMismatch(let path, let expected, let actual, let url, let failures):
            let got = actual > expected ? "at least \(actual) bytes" : "\(actual) bytes"
            return "\(path) from \(url) is \(got), not the expected \(expected)\(Self.others(failures, url))"
                + "; the mirror is corrupt, out of sync or tampered with: use another mirror \(Self.mirrorHint)"
        case .invalidPath(let path):
            return "refusing to download \"\(path)\": not a relative path inside a mirror (empty, absolute, with `.` or `..`, or control characters); the index or lockfile that named it is broken"
        case .noMirrors(let path):
            return "cannot download \(path): no mirror is configured; give one \(Self.mirrorHint)"
        case .destination(let path, let destination, let operation, let code):
            let reason = code == EEXIST ? "it already exists" : SystemError.text(code)
            return "cannot \(operation) \(destination) (downloading \(path)): \(reason); check the directory and free space"
        case .registry(_, let message):
            return message
        }
    }

    /// `m1: reason (3 attempts); m2: HTTP 404`.
    static func list(_ failures: [MirrorFailure]) -> String {
        failures.map(\.description).joined(separator: "; ")
    }

    /// The failures at mirrors other than the one the sentence is about, as a parenthesis.
    static func others(_ failures: [MirrorFailure], _ url: String) -> String {
        let rest = failures.filter { $0.url != url }
        return rest.isEmpty ? "" : " (and " + list(rest) + ")"
    }
}

/// What went wrong at one mirror, after `attempts` attempts.
public struct MirrorFailure: Equatable, Sendable, CustomStringConvertible {
    /// The mirror as given to the `Fetcher`.
    public var mirror: String
    /// The full URL tried (before redirects).
    public var url: String
    public var reason: Reason
    public var attempts: Int

    public init(mirror: String, url: String, reason: Reason, attempts: Int) {
        self.mirror = mirror
        self.url = url
        self.reason = reason
        self.attempts = attempts
    }

    public var description: String {
        "\(mirror): \(reason)" + (attempts > 1 ? " (\(attempts) attempts)" : "")
    }

    /// One mirror's answer.
    public enum Reason: Equatable, Sendable, CustomStringConvertible {
        /// HTTP 404 or 410: the mirror does not have the file (not retried).
        case notFound(status: Int)
        /// Another HTTP status than 200; 5xx, 408 and 429 are retried.
        case httpStatus(Int)
        /// HTTP 429: retried after what `Retry-After` said (seconds, capped).
        case rateLimited(retryAfter: Double)
        /// The connection failed or broke (refused, reset, timed out, closed early): retried.
        case network(String)
        /// The body ended before its `Content-Length`: retried.
        case truncated(received: Int64, expected: Int64)
        /// The bytes have another sha256 than expected (not retried at this mirror).
        case digestMismatch(expected: Digest, actual: Digest)
        /// Another number of bytes than expected; `actual > expected` means "at least that many".
        case sizeMismatch(expected: Int64, actual: Int64)
        /// More than the download's limit arrived (its size was unknown).
        case tooLarge(limit: Int64)
        /// A `file://` mirror has no such file.
        case noSuchFile
        /// A `file://` mirror's file could not be read.
        case unreadable(String)
        /// The mirror is not an `http://`, `https://` or `file:///` URL.
        case invalidMirror

        /// Worth another attempt at the same mirror: the failure may not happen again.
        var isTransient: Bool {
            switch self {
            case .network, .truncated, .rateLimited: return true
            case .httpStatus(let status): return status >= 500 || status == 408 || status == 429
            default: return false
            }
        }

        /// A transfer that broke after some bytes: the next attempt asks for the rest.
        var isResumable: Bool {
            switch self {
            case .network, .truncated: return true
            default: return false
            }
        }

        /// The wait a server asked for before the next attempt.
        var retryAfter: Double? {
            if case .rateLimited(let seconds) = self { return seconds }
            return nil
        }

        public var description: String {
            switch self {
            case .notFound(let status), .httpStatus(let status): return "HTTP \(status)"
            case .rateLimited: return "HTTP 429 (too many requests)"
            case .network(let text): return text
            case .truncated(let received, let expected): return "connection closed after \(received) of \(expected) bytes"
            case .digestMismatch(let expected, let actual): return "digest \(actual), expected \(expected)"
            case .sizeMismatch(let expected, let actual):
                return (actual > expected ? "at least " : "") + "\(actual) bytes, expected \(expected)"
            case .tooLarge(let limit): return "more than \(limit) bytes"
            case .noSuchFile: return "no such file"
            case .unreadable(let text): return text
            case .invalidMirror: return "not an http://, https:// or file:/// URL"
            }
        }
    }
}

/// `strerror`, lowercased to sit inside a sentence: "connection refused".
func errnoText(_ code: Int32) -> String {
    let text = SystemError.text(code)
    return text.prefix(1).lowercased() + text.dropFirst()
}

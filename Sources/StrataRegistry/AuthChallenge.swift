/// One challenge of a `WWW-Authenticate` header (RFC 7235 §4.1), e.g.
/// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`.
///
/// A header holds one or more challenges separated by commas, and a challenge's
/// parameters are separated by commas too: a comma followed by `TOKEN =` continues the
/// challenge, one followed by `TOKEN` and anything else starts the next. Parameter values
/// are tokens or quoted strings (with `\` escapes); names are matched without case.
public struct AuthChallenge: Sendable, Equatable {
    /// The scheme, lowercased: `bearer`, `basic`.
    public var scheme: String
    /// Parameters by lowercased name; the first of a name repeated wins.
    public var parameters: [String: String]
    /// A `token68` in place of parameters (`Negotiate abc==`), when there is one.
    public var token68: String?

    public init(scheme: String, parameters: [String: String] = [:], token68: String? = nil) {
        self.scheme = scheme; self.parameters = parameters; self.token68 = token68
    }

    public var realm: String? { parameters["realm"] }

    /// Every challenge in the value of one `WWW-Authenticate` header (or several joined
    /// with commas, as RFC 7230 allows). Whatever cannot be read ends the list there.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = ChallengeScanner(Array(header.utf8))
        var challenges: [AuthChallenge] = []
        while true {
            scanner.skip { $0 == 0x2C || isSpace($0) }
            guard let scheme = scanner.token() else { break }
            var challenge = AuthChallenge(scheme: scheme.lowercased())
            scanner.skipSpaces()
            var unreadable = false
            if scanner.startsParameter(at: scanner.position) {
                while true {
                    guard let (name, value) = scanner.parameter() else { unreadable = true; break }
                    if challenge.parameters[name] == nil { challenge.parameters[name] = value }
                    let end = scanner.position
                    scanner.skipSpaces()
                    guard scanner.peek == 0x2C else { scanner.position = end; break }
                    scanner.skip { $0 == 0x2C || isSpace($0) }
                    // A token not followed by `=` is the next challenge's scheme.
                    if !scanner.startsParameter(at: scanner.position) { break }
                }
            } else if let word = scanner.token68() {
                challenge.token68 = String(decoding: word, as: UTF8.self)
            }
            challenges.append(challenge)
            if unreadable { break }
            scanner.skipSpaces()
            // Anything but a comma or the next scheme is not a header this parser can read further.
            if !scanner.atEnd && scanner.peek != 0x2C && !scanner.tokenAhead { break }
        }
        return challenges
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
}

/// The bytes of a header value and a position in them.
struct ChallengeScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[position] }
    var tokenAhead: Bool { peek.map(Self.isTokenCharacter) ?? false }

    mutating func skip(while condition: (UInt8) -> Bool) {
        while let b = peek, condition(b) { position += 1 }
    }

    mutating func skipSpaces() { skip(while: AuthChallenge.isSpace) }

    /// RFC 7230 tchar: `!#$%&'*+-.^_`|~`, digits and letters.
    static func isTokenCharacter(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }

    static func isToken68Character(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "-._~+/".utf8.contains(b)
    }

    mutating func token() -> String? {
        let start = position
        skip(while: Self.isTokenCharacter)
        return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
    }

    mutating func token68() -> [UInt8]? {
        let start = position
        skip(while: Self.isToken68Character)
        guard position > start else { return nil }
        skip { $0 == 0x3D }
        return Array(bytes[start..<position])
    }

    /// Whether `TOKEN BWS = BWS value` (a parameter, not the next scheme, nor a token68's
    /// `=` padding) starts at `start`.
    func startsParameter(at start: Int) -> Bool {
        var probe = self
        probe.position = start
        guard probe.token() != nil else { return false }
        probe.skipSpaces()
        guard probe.peek == 0x3D else { return false }
        probe.position += 1
        probe.skipSpaces()
        return !(probe.atEnd || probe.peek == 0x2C || probe.peek == 0x3D)
    }

    /// `name BWS = BWS (token / quoted-string)`, the name lowercased; nil (position kept)
    /// when none starts here.
    mutating func parameter() -> (String, String)? {
        let start = position
        guard let name = token() else { return nil }
        skipSpaces()
        guard peek == 0x3D else { position = start; return nil }
        position += 1
        skipSpaces()
        if peek == 0x22 {
            position += 1
            var value: [UInt8] = []
            while let b = peek, b != 0x22 {
                position += 1
                if b == 0x5C, let escaped = peek { value.append(escaped); position += 1 } else { value.append(b) }
            }
            guard peek == 0x22 else { position = start; return nil }
            position += 1
            return (name.lowercased(), String(decoding: value, as: UTF8.self))
        }
        guard let value = token() else { position = start; return nil }
        return (name.lowercased(), value)
    }
}

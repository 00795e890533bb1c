/// The name of an image in the store: `NAME[:TAG]`, as Docker and Podman write it
/// (`python`, `team/tools:1.2`, `localhost:5000/app:dev`); the tag defaults to `latest`.
///
/// Guarantees: `name` follows the distribution spec's repository grammar (lowercase
/// path components separated by `/`, optionally after a registry host) and `tag` its
/// tag grammar, so `description` is a valid `org.opencontainers.image.ref.name`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var tag: String

    public static let defaultTag = "latest"

    /// Why text is not an image reference, in words that end a sentence.
    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "\"\(text)\" is not an image name: \(reason)" }
    }

    public init(name: String, tag: String = ImageReference.defaultTag) {
        self.name = name; self.tag = tag
    }

    /// `NAME[:TAG]`; the tag is what follows the last `:` after the last `/`.
    public init(parsing text: String) throws(Invalid) {
        var name = Substring(text)
        var tag = Substring(ImageReference.defaultTag)
        if text.contains("@") {
            throw Invalid(text: text, reason: "digests are not tags; write NAME:TAG")
        }
        if let colon = text.lastIndex(of: ":"), !text[text.index(after: colon)...].contains("/") {
            name = text[..<colon]
            tag = text[text.index(after: colon)...]
        }
        guard Self.isValidTag(tag) else {
            throw Invalid(text: text, reason: "the tag must be 1–128 of [A-Za-z0-9_.-], not starting with . or -")
        }
        guard name.utf8.count <= 255, Self.isValidName(name) else {
            throw Invalid(text: text, reason: "a name is lowercase [a-z0-9] words joined by . _ __ or -, in /-separated parts (like team/tools or localhost:5000/app)")
        }
        self.init(name: String(name), tag: String(tag))
    }

    public var description: String { name + ":" + tag }

    static func isValidTag(_ tag: Substring) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool { isAlphanumeric(b) || (b >= 0x41 && b <= 0x5a) || b == 0x5f }
        return word(first) && bytes.allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    static func isValidName(_ name: Substring) -> Bool {
        var parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first else { return false }
        // As the distribution reference grammar says: a first part with a dot, a port or
        // `localhost` is a registry host, when more parts follow.
        if parts.count > 1, first.contains(".") || first.contains(":") || first == "localhost" {
            guard isValidHost(first) else { return false }
            parts.removeFirst()
        }
        return parts.allSatisfy(isValidComponent)
    }

    /// `[a-z0-9]+` words separated by `.`, `_`, `__` or any run of `-`.
    static func isValidComponent(_ part: Substring) -> Bool {
        let bytes = Array(part.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        var index = 0
        while index < bytes.count {
            if isAlphanumeric(bytes[index]) { index += 1; continue }
            var end = index
            while end < bytes.count, !isAlphanumeric(bytes[end]) { end += 1 }
            let separator = bytes[index..<end]
            let ok = separator.elementsEqual([0x2e]) || separator.elementsEqual([0x5f]) || separator.elementsEqual([0x5f, 0x5f])
                || separator.allSatisfy { $0 == 0x2d }
            guard ok else { return false }
            index = end
        }
        return true
    }

    static func isValidHost(_ host: Substring) -> Bool {
        let pieces = host.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count <= 2, let domain = pieces.first, !domain.isEmpty else { return false }
        if pieces.count == 2 {
            guard let port = pieces.last, !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return false
            }
        }
        return domain.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.utf8.first, let last = label.utf8.last else { return false }
            return isHostCharacter(first) && first != 0x2d && last != 0x2d && label.utf8.allSatisfy(isHostCharacter)
        }
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) }
    static func isHostCharacter(_ b: UInt8) -> Bool { isAlphanumeric(b) || (b >= 0x41 && b <= 0x5a) || b == 0x2d }
}

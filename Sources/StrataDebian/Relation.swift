// The relationship fields of Debian control data (policy 7.1): Depends, Pre-Depends,
// Recommends, Suggests, Enhances, Conflicts, Breaks, Provides, Replaces and the Build-*
// fields. A field is a list of clauses separated by commas, all of which must hold; a clause
// is a list of alternatives separated by `|`, one of which must hold.

/// A version relation operator of policy 7.1.
public enum RelationOperator: String, Sendable, Hashable, CaseIterable {
    /// `<<`: strictly earlier.
    case earlier = "<<"
    /// `<=`: earlier or equal (also written `<`, obsolete).
    case earlierOrEqual = "<="
    /// `=`: exactly equal (by dpkg's order: `1.0` satisfies `= 1.00`).
    case equal = "="
    /// `>=`: later or equal (also written `>`, obsolete).
    case laterOrEqual = ">="
    /// `>>`: strictly later.
    case later = ">>"
}

/// A version requirement such as `(>= 2.36)`. Immutable; comparison is dpkg's.
public struct VersionConstraint: Sendable, Hashable, CustomStringConvertible {
    public let relation: RelationOperator
    public let version: DebianVersion

    public init(_ relation: RelationOperator, _ version: DebianVersion) {
        self.relation = relation
        self.version = version
    }

    /// Whether `version` satisfies this constraint, by dpkg's version order.
    public func isSatisfied(by version: DebianVersion) -> Bool {
        let order = DebianVersion.compare(version, self.version)
        switch relation {
        case .earlier: return order < 0
        case .earlierOrEqual: return order <= 0
        case .equal: return order == 0
        case .laterOrEqual: return order >= 0
        case .later: return order > 0
        }
    }

    /// The canonical form, e.g. `>= 2.36`.
    public var description: String { "\(relation.rawValue) \(version)" }
}

/// The `:qualifier` after a package name in a relation (Multi-Arch, policy 7.1 and the
/// Multi-Arch spec): `:any` accepts a `Multi-Arch: allowed` package of any architecture,
/// `:native` the build architecture, otherwise a named architecture.
public enum ArchitectureQualifier: Sendable, Hashable, CustomStringConvertible {
    case any
    case native
    case architecture(String)

    public var description: String {
        switch self {
        case .any: return "any"
        case .native: return "native"
        case .architecture(let name): return name
        }
    }
}

/// An architecture restriction list such as `[amd64 arm64]` or `[!hurd-any]`: the alternative
/// applies only on the listed architectures, or, when negated, on all others. Immutable.
public struct ArchitectureRestriction: Sendable, Hashable, CustomStringConvertible {
    /// Whether every entry was written with `!` (policy forbids mixing the two forms).
    public let isNegated: Bool
    /// The architecture names or wildcards (`linux-any`, `any-amd64`), without `!`.
    public let architectures: [String]

    public init(isNegated: Bool, architectures: [String]) {
        self.isNegated = isNegated
        self.architectures = architectures
    }

    /// Whether an alternative carrying this restriction applies on `architecture`.
    public func includes(_ architecture: String) -> Bool {
        let listed = architectures.contains { Self.wildcard($0, matches: architecture) }
        return listed != isNegated
    }

    /// dpkg's architecture wildcards for the common forms: `any`, `OS-any` and `any-CPU`, with
    /// the architecture split into operating system and CPU as dpkg's tuple table does for
    /// the released architectures (`armhf` is linux/arm, `x32` linux/amd64, `hurd-i386` hurd/i386).
    static func wildcard(_ pattern: String, matches architecture: String) -> Bool {
        if pattern == architecture || pattern == "any" { return true }
        let (os, cpu) = split(architecture)
        if pattern.hasSuffix("-any") { return pattern.dropLast(4) == os }
        if pattern.hasPrefix("any-") { return pattern.dropFirst(4) == cpu }
        return false
    }

    private static func split(_ architecture: String) -> (os: Substring, cpu: Substring) {
        if let dash = architecture.lastIndex(of: "-") {
            let os = architecture[..<dash]
            // `musl-linux-amd64` and `uclibc-linux-arm` run Linux with another libc.
            return (os.hasSuffix("-linux") ? "linux" : os, architecture[architecture.index(after: dash)...])
        }
        switch architecture {
        case "armel", "armhf": return ("linux", "arm")
        case "x32": return ("linux", "amd64")
        case "powerpcspe": return ("linux", "powerpc")
        case "mipsn32el", "mips64el": return ("linux", "mips64el")
        default: return ("linux", architecture[...])
        }
    }

    public var description: String {
        "[" + architectures.map { isNegated ? "!" + $0 : $0 }.joined(separator: " ") + "]"
    }
}

/// One alternative of a relationship field: `name[:qualifier] [(op version)] [[arch list]]`.
/// Build profile lists (`<!nocheck>`) are accepted and ignored. Immutable.
public struct Relation: Sendable, Hashable, CustomStringConvertible {
    /// The package (or virtual package) name, as written.
    public let name: String
    public let architectureQualifier: ArchitectureQualifier?
    public let versionConstraint: VersionConstraint?
    public let architectureRestriction: ArchitectureRestriction?

    public init(
        name: String, architectureQualifier: ArchitectureQualifier? = nil,
        versionConstraint: VersionConstraint? = nil, architectureRestriction: ArchitectureRestriction? = nil
    ) {
        self.name = name
        self.architectureQualifier = architectureQualifier
        self.versionConstraint = versionConstraint
        self.architectureRestriction = architectureRestriction
    }

    /// Whether a package of this name at `version` satisfies the version part (always, when
    /// the relation names no version).
    public func isSatisfied(by version: DebianVersion) -> Bool {
        versionConstraint?.isSatisfied(by: version) ?? true
    }

    /// The canonical form, e.g. `libc6:any (>= 2.36) [amd64]`.
    public var description: String {
        var text = name
        if let architectureQualifier { text += ":\(architectureQualifier)" }
        if let versionConstraint { text += " (\(versionConstraint))" }
        if let architectureRestriction { text += " \(architectureRestriction)" }
        return text
    }
}

/// One clause of a relationship field: alternatives separated by `|`, at least one when parsed,
/// in the order written (the order a resolver tries them). A collection of its alternatives,
/// indexed from 0; clauses of one parsed field share that field's storage.
public struct RelationClause: Sendable, Hashable, RandomAccessCollection, CustomStringConvertible {
    // A slice of the field's single array of alternatives: most clauses have one alternative,
    // and an array per clause would double the allocations of parsing an index.
    private let storage: ArraySlice<Relation>

    public init(_ alternatives: [Relation]) {
        self.storage = alternatives[...]
    }

    init(slice: ArraySlice<Relation>) {
        self.storage = slice
    }

    /// The alternatives as an array.
    public var alternatives: [Relation] { Array(storage) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.count }
    public subscript(position: Int) -> Relation { storage[storage.startIndex + position] }

    public static func == (a: RelationClause, b: RelationClause) -> Bool { a.storage.elementsEqual(b.storage) }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.count)
        for relation in storage { hasher.combine(relation) }
    }

    public var description: String { storage.map(\.description).joined(separator: " | ") }
}

/// A parsed relationship field (`Depends`, `Pre-Depends`, `Recommends`, `Conflicts`, `Breaks`,
/// `Provides`, …): clauses that must all hold. Immutable. Parsing accepts exactly the syntax
/// of policy 7.1 (plus the obsolete `<` and `>`, read as `<=` and `>=` as dpkg reads them),
/// with any whitespace, including folded lines, between tokens.
public struct RelationList: Sendable, Hashable, CustomStringConvertible {
    public let clauses: [RelationClause]

    public init(_ clauses: [RelationClause]) {
        self.clauses = clauses
    }

    /// Parses a field's value. An empty or blank value is an empty list.
    public init(parsing text: String) throws(RelationError) {
        self.clauses = try Self.parse(text).get()
    }

    /// Parses a field's value held in a larger text (a stanza, a whole index).
    public init(parsing text: Substring) throws(RelationError) {
        self.clauses = try Self.parse(text).get()
    }

    // Concrete public entry points, so that callers in other modules reach a specialized
    // parser rather than a generic one dispatched through StringProtocol's witness table.
    private static func parse(_ text: some StringProtocol) -> Result<[RelationClause], RelationError> {
        func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<[RelationClause], RelationError> {
            var parser = RelationParser(bytes: bytes, text: text)
            return parser.parseList()
        }
        // Native strings and substrings are contiguous UTF-8; the copy is only a fallback.
        return text.utf8.withContiguousStorageIfAvailable(parse) ?? Array(text.utf8).withUnsafeBufferPointer(parse)
    }

    /// The field as it applies on `architecture`: alternatives whose architecture list excludes
    /// it are dropped, and so are clauses left without alternatives (as dpkg-dev reduces
    /// Build-Depends). Alternatives without a list always stay.
    public func forArchitecture(_ architecture: String) -> RelationList {
        // Binary packages' fields carry no architecture lists: nothing to copy then.
        guard clauses.contains(where: { $0.contains { $0.architectureRestriction != nil } }) else { return self }
        var kept: [RelationClause] = []
        kept.reserveCapacity(clauses.count)
        for clause in clauses {
            let alternatives = clause.filter {
                $0.architectureRestriction?.includes(architecture) ?? true
            }
            if !alternatives.isEmpty { kept.append(RelationClause(alternatives)) }
        }
        return RelationList(kept)
    }

    /// The canonical form: clauses joined by `, `.
    public var description: String { clauses.map(\.description).joined(separator: ", ") }
}

/// A relationship field that does not follow policy 7.1: the field's text, the UTF-8 offset
/// where parsing stopped, and what was wrong there.
public struct RelationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        case missingPackageName
        case invalidPackageName(String)
        case emptyArchitectureQualifier
        case invalidArchitecture(String)
        case missingOperator
        case invalidOperator(String)
        case missingVersion
        case unterminatedVersion
        case invalidVersion(DebianVersionError)
        case emptyArchitectureList
        case unterminatedArchitectureList
        case mixedArchitectureNegation
        case unterminatedProfileList
        case emptyProfileList
        case unexpectedCharacter(Character)
    }

    /// The whole field value as given.
    public let text: String
    /// The UTF-8 offset in `text` where the problem was found.
    public let offset: Int
    public let problem: Problem

    public init(text: String, offset: Int, problem: Problem) {
        self.text = text
        self.offset = offset
        self.problem = problem
    }

    public var description: String {
        let why: String
        switch problem {
        case .missingPackageName: why = "a package name is missing"
        case .invalidPackageName(let name):
            why = "\"\(name)\" is not a package name (lowercase letters, digits and + - . starting with a letter or digit)"
        case .emptyArchitectureQualifier: why = "nothing follows ':' after the package name"
        case .invalidArchitecture(let name): why = "\"\(name)\" is not an architecture name"
        case .missingOperator: why = "the version needs an operator (<<, <=, =, >= or >>)"
        case .invalidOperator(let op): why = "\"\(op)\" is not a relation operator (<<, <=, =, >= or >>)"
        case .missingVersion: why = "the version after the operator is missing"
        case .unterminatedVersion: why = "the version is not closed by ')'"
        case .invalidVersion(let error): why = error.description
        case .emptyArchitectureList: why = "the architecture list is empty"
        case .unterminatedArchitectureList: why = "the architecture list is not closed by ']'"
        case .mixedArchitectureNegation: why = "an architecture list mixes negated (!) and plain entries"
        case .unterminatedProfileList: why = "the build profile list is not closed by '>'"
        case .emptyProfileList: why = "the build profile list is empty"
        case .unexpectedCharacter(let c): why = "'\(c)' is unexpected here (expected ',', '|' or the end)"
        }
        return "invalid relationship field \"\(text)\" at offset \(offset): \(why)"
    }
}

/// A single pass over the field's UTF-8 bytes; no intermediate strings but the names and
/// versions it returns, since an archive index holds tens of thousands of these fields.
private struct RelationParser<Text: StringProtocol> {
    let bytes: UnsafeBufferPointer<UInt8>
    let text: Text
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, text: Text) {
        self.bytes = bytes
        self.text = text
    }

    private struct Failure: Error {
        let offset: Int
        let problem: RelationError.Problem
    }

    mutating func parseList() -> Result<[RelationClause], RelationError> {
        do throws(Failure) {
            skipSpace()
            if position == bytes.count { return .success([]) }
            // Sized by the separators up front: one allocation for all alternatives, one for the
            // clause ends, instead of regrowing either.
            var separators = (commas: 0, bars: 0)
            for c in bytes {
                if c == UInt8(ascii: ",") { separators.commas += 1 } else if c == UInt8(ascii: "|") { separators.bars += 1 }
            }
            var relations: [Relation] = []
            relations.reserveCapacity(separators.commas + separators.bars + 1)
            var ends: [Int] = []
            ends.reserveCapacity(separators.commas + 1)
            while true {
                while true {
                    relations.append(try parseRelation())
                    guard peek == UInt8(ascii: "|") else { break }
                    position += 1
                }
                ends.append(relations.count)
                guard let c = peek else { break }
                guard c == UInt8(ascii: ",") else { throw unexpected() }
                position += 1
            }
            var clauses: [RelationClause] = []
            clauses.reserveCapacity(ends.count)
            var start = 0
            for end in ends {
                clauses.append(RelationClause(slice: relations[start..<end]))
                start = end
            }
            return .success(clauses)
        } catch {
            return .failure(RelationError(text: String(text), offset: error.offset, problem: error.problem))
        }
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
    }

    private mutating func skipSpace() {
        while position < bytes.count, Self.isSpace(bytes[position]) { position += 1 }
    }

    private func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private func unexpected() -> Failure {
        var end = position + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return Failure(offset: position, problem: .unexpectedCharacter(string(position..<end).first ?? "\u{FFFD}"))
    }

    /// Reads a run of characters up to whitespace or one of the field's punctuation marks.
    private mutating func word() -> Range<Int> {
        let start = position
        while position < bytes.count, !Self.isDelimiter(bytes[position]) { position += 1 }
        return start..<position
    }

    @inline(__always)
    private static func isLowerAlphanumeric(_ c: UInt8) -> Bool {
        (c &- UInt8(ascii: "a") < 26) || DebianVersion.isDigit(c)
    }

    private static func isDelimiter(_ c: UInt8) -> Bool {
        switch c {
        case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "|"), UInt8(ascii: ":"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: "<"), UInt8(ascii: ">"):
            return true
        default:
            return false
        }
    }

    /// Reads a package name, validating as it goes (policy 5.6.1: lowercase letters, digits,
    /// `+ - .`, starting with a letter or digit): one pass, since every relation has a name.
    private mutating func packageName() throws(Failure) -> String {
        let start = position
        while position < bytes.count {
            let c = bytes[position]
            guard Self.isLowerAlphanumeric(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            else { break }
            position += 1
        }
        if position < bytes.count, !Self.isDelimiter(bytes[position]) {
            // A character no name may hold: report the whole word it is part of.
            position = start
            let range = word()
            throw Failure(offset: start, problem: .invalidPackageName(string(range)))
        }
        if position == start { throw Failure(offset: start, problem: .missingPackageName) }
        guard Self.isLowerAlphanumeric(bytes[start]) else {
            throw Failure(offset: start, problem: .invalidPackageName(string(start..<position)))
        }
        return string(start..<position)
    }

    private static func isArchitectureName(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        // dpkg's dpkg_arch_name_is_illegal: alphanumerics and '-', starting with an alphanumeric.
        guard let first = name.first, isLowerAlphanumeric(first) else { return false }
        return name.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    private mutating func parseRelation() throws(Failure) -> Relation {
        skipSpace()
        let name = try packageName()

        var qualifier: ArchitectureQualifier? = nil
        if peek == UInt8(ascii: ":") {
            position += 1
            let range = word()
            if range.isEmpty { throw Failure(offset: position, problem: .emptyArchitectureQualifier) }
            guard Self.isArchitectureName(UnsafeBufferPointer(rebasing: bytes[range])) else {
                throw Failure(offset: range.lowerBound, problem: .invalidArchitecture(string(range)))
            }
            switch string(range) {
            case "any": qualifier = .any
            case "native": qualifier = .native
            case let other: qualifier = .architecture(other)
            }
        }
        skipSpace()

        var constraint: VersionConstraint? = nil
        if peek == UInt8(ascii: "(") {
            position += 1
            skipSpace()
            constraint = try parseConstraint()
            skipSpace()
        }

        var restriction: ArchitectureRestriction? = nil
        if peek == UInt8(ascii: "[") {
            restriction = try parseArchitectureList()
            skipSpace()
        }

        // Build profile formulas (`<!nocheck> <stage1 cross>`) choose what to build, never what
        // a binary package needs: checked for shape, then ignored.
        while peek == UInt8(ascii: "<") {
            let open = position
            position += 1
            skipSpace()
            var sawTerm = false
            while let c = peek, c != UInt8(ascii: ">") {
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "|") || c == UInt8(ascii: "<") { break }
                if !Self.isSpace(c) { sawTerm = true }
                position += 1
            }
            guard peek == UInt8(ascii: ">") else { throw Failure(offset: open, problem: .unterminatedProfileList) }
            if !sawTerm { throw Failure(offset: open, problem: .emptyProfileList) }
            position += 1
            skipSpace()
        }

        return Relation(
            name: name, architectureQualifier: qualifier, versionConstraint: constraint,
            architectureRestriction: restriction)
    }

    private mutating func parseConstraint() throws(Failure) -> VersionConstraint {
        let operatorStart = position
        let relation: RelationOperator
        switch (peek, position + 1 < bytes.count ? bytes[position + 1] : nil) {
        case (UInt8(ascii: "<"), UInt8(ascii: "<")): relation = .earlier; position += 2
        case (UInt8(ascii: "<"), UInt8(ascii: "=")): relation = .earlierOrEqual; position += 2
        case (UInt8(ascii: ">"), UInt8(ascii: ">")): relation = .later; position += 2
        case (UInt8(ascii: ">"), UInt8(ascii: "=")): relation = .laterOrEqual; position += 2
        case (UInt8(ascii: "<"), UInt8(ascii: ">")), (UInt8(ascii: ">"), UInt8(ascii: "<")):
            throw Failure(offset: operatorStart, problem: .invalidOperator(string(position..<position + 2)))
        // The obsolete one-character forms meant "or equal" (dpkg reads them so, with a warning).
        case (UInt8(ascii: "<"), _): relation = .earlierOrEqual; position += 1
        case (UInt8(ascii: ">"), _): relation = .laterOrEqual; position += 1
        case (UInt8(ascii: "="), UInt8(ascii: "=")):
            throw Failure(offset: operatorStart, problem: .invalidOperator("=="))
        case (UInt8(ascii: "="), _): relation = .equal; position += 1
        default:
            // dpkg guesses "=" here with a warning; a resolver should not guess.
            throw Failure(offset: operatorStart, problem: .missingOperator)
        }
        skipSpace()
        let versionStart = position
        while let c = peek, c != UInt8(ascii: ")"), !Self.isSpace(c), c != UInt8(ascii: "("),
            c != UInt8(ascii: ","), c != UInt8(ascii: "|")
        {
            position += 1
        }
        let versionRange = versionStart..<position
        if versionRange.isEmpty {
            if peek == UInt8(ascii: ")") || peek == nil { throw Failure(offset: position, problem: .missingVersion) }
            throw Failure(offset: position, problem: .unterminatedVersion)
        }
        skipSpace()
        guard peek == UInt8(ascii: ")") else { throw Failure(offset: position, problem: .unterminatedVersion) }
        position += 1
        let versionBytes = UnsafeBufferPointer(rebasing: bytes[versionRange])
        do {
            let version = try DebianVersion(utf8: versionBytes, text: string(versionRange))
            return VersionConstraint(relation, version)
        } catch {
            throw Failure(offset: versionStart, problem: .invalidVersion(error))
        }
    }

    private mutating func parseArchitectureList() throws(Failure) -> ArchitectureRestriction {
        let open = position
        position += 1
        var architectures: [String] = []
        var negated: Bool? = nil
        while true {
            skipSpace()
            guard let c = peek else { throw Failure(offset: open, problem: .unterminatedArchitectureList) }
            if c == UInt8(ascii: "]") { position += 1; break }
            let entryStart = position
            let isNegated = c == UInt8(ascii: "!")
            if isNegated { position += 1 }
            let range = word()
            if range.isEmpty {
                if peek == nil { throw Failure(offset: open, problem: .unterminatedArchitectureList) }
                if isNegated { throw Failure(offset: position, problem: .invalidArchitecture("")) }
                throw unexpected()
            }
            guard Self.isArchitectureName(UnsafeBufferPointer(rebasing: bytes[range])) else {
                throw Failure(offset: range.lowerBound, problem: .invalidArchitecture(string(range)))
            }
            if let negated, negated != isNegated {
                throw Failure(offset: entryStart, problem: .mixedArchitectureNegation)
            }
            negated = isNegated
            architectures.append(string(range))
        }
        guard let negated else { throw Failure(offset: open, problem: .emptyArchitectureList) }
        return ArchitectureRestriction(isNegated: negated, architectures: architectures)
    }
}

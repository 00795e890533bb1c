// Dependency resolution over a Packages index (issue 3, "Resolve"): the variant's base set plus
// the named packages, closed over Pre-Depends and Depends (and Recommends when asked), with
// Conflicts and Breaks honoured. Pure: no I/O, the same inputs always give the same result.

/// A package the user names: `name`, `name=version` or `name:arch` (apt's syntax).
///
/// Immutable value; `description` gives back the text form.
public struct PackageRequest: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// An exact version (`git=1:2.39.5-0+deb12u2`): only that version is acceptable.
    public var version: String?
    /// An explicit architecture (`libssl-dev:amd64`); nil means the target architecture.
    public var architecture: String?

    public init(name: String, version: String? = nil, architecture: String? = nil) {
        self.name = name
        self.version = version
        self.architecture = architecture
    }

    /// Parses `name[:arch][=version]`. The architecture comes before `=` since versions may
    /// themselves hold colons (epochs).
    public init(parsing text: String) throws(ResolverError) {
        func invalid(_ why: String) -> ResolverError {
            ResolverError(package: text, relation: nil, chain: [], problem: .invalidRequest(why))
        }
        var head = Substring(text)
        var version: String?
        if let equals = text.firstIndex(of: "=") {
            head = text[..<equals]
            let rest = text[text.index(after: equals)...]
            guard !rest.isEmpty else { throw invalid("nothing follows '='") }
            do { _ = try DebianVersion(rest) } catch { throw invalid(error.description) }
            version = String(rest)
        }
        var architecture: String?
        if let colon = head.firstIndex(of: ":") {
            let arch = head[head.index(after: colon)...]
            guard !arch.isEmpty else { throw invalid("nothing follows ':'") }
            architecture = String(arch)
            head = head[..<colon]
        }
        guard !head.isEmpty else { throw invalid("the package name is missing") }
        // Reuse the relation parser's name rules rather than a second copy of them.
        do { _ = try RelationList(parsing: head) } catch { throw invalid(error.description) }
        guard !head.contains(where: { $0 == " " || $0 == "," || $0 == "|" || $0 == "(" }) else {
            throw invalid("a request names exactly one package")
        }
        self.init(name: String(head), version: version, architecture: architecture)
    }

    public var description: String {
        var text = name
        if let architecture { text += ":" + architecture }
        if let version { text += "=" + version }
        return text
    }
}

/// The set of packages installed whatever the request, as mmdebstrap's variants define them.
public enum BaseVariant: String, Sendable, Hashable, CaseIterable {
    /// Every `Essential: yes` package.
    case essential
    /// Essential, every `Priority: required` package, and apt.
    case minbase
    /// Nothing beyond what is named (and what it needs).
    case extract
}

/// Knobs of a resolution. Value type.
public struct ResolverOptions: Sendable, Hashable {
    /// Whether Recommends count. They are soft, as in apt: one that cannot be satisfied is
    /// skipped rather than failing the resolution.
    public var recommends: Bool
    /// How many tentative choices the search may make before it gives up, so that an
    /// unsatisfiable input with many alternatives fails in bounded time.
    public var stepLimit: Int

    public init(recommends: Bool = false, stepLimit: Int = 200_000) {
        self.recommends = recommends
        self.stepLimit = stepLimit
    }
}

/// Why a resolution failed: the package whose relation could not hold, that relation, the
/// chain of dependents from what was requested down to it, and the reason.
///
/// Immutable value; `description` is one sentence for the CLI.
public struct ResolverError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        /// The request text is not `name[:arch][=version]`.
        case invalidRequest(String)
        /// No package and no provider carries the relation's name.
        case notFound
        /// Packages of that name exist (these versions, architectures), none satisfies the relation.
        case noMatchingVersion(available: [String])
        /// Every candidate clashed with the packages already chosen; the first clash:
        /// `declaredBy`'s `relation` (e.g. `Conflicts: b (<< 2)`) rules out `other`.
        case conflict(candidate: String, other: String, declaredBy: String, relation: String)
        /// The candidate needs another version (or architecture) of a package already chosen.
        case otherVersionChosen(candidate: String, chosen: String)
        /// A candidate's relationship field or version in the index does not parse.
        case invalidIndexEntry(candidate: String, reason: String)
        /// The search made `stepLimit` choices without settling.
        case searchLimit(Int)
    }

    /// The package whose relation failed, as `name version`, or the request's text.
    public let package: String
    /// The failed relation (clause of alternatives), in canonical form; nil for a bad request.
    public let relation: String?
    /// From what was requested (or the base set) to the failed relation:
    /// `["python3", "python3.11", "libpython3.11-stdlib", "libffi8 (>= 3.4)"]`.
    public let chain: [String]
    public let problem: Problem

    public init(package: String, relation: String?, chain: [String], problem: Problem) {
        self.package = package
        self.relation = relation
        self.chain = chain
        self.problem = problem
    }

    public var description: String {
        let why: String
        switch problem {
        case .invalidRequest(let reason):
            return "invalid package request \"\(package)\": \(reason)"
        case .notFound: why = "no package or provider of that name exists"
        case .noMatchingVersion(let available):
            why = "no candidate fits; available: " + available.joined(separator: ", ")
        case .conflict(let candidate, let other, let declaredBy, let relation):
            why = "\(candidate) cannot be installed with \(other): \(declaredBy) has \(relation)"
        case .otherVersionChosen(let candidate, let chosen):
            why = "\(candidate) cannot be installed: \(chosen) is already chosen"
        case .invalidIndexEntry(let candidate, let reason):
            why = "the index entry of \(candidate) is invalid: \(reason)"
        case .searchLimit(let limit):
            why = "no solution found within \(limit) choices"
        }
        return "cannot satisfy \(relation ?? "?") of \(package) (\(chain.joined(separator: " → "))): \(why)"
    }
}

/// Resolves requests against one package index (several merged: pass all their records) for
/// one target architecture.
///
/// Guarantees: pure and deterministic (same index, requests, variant and options → the same
/// `Resolution`); immutable and `Sendable`, so one resolver may serve concurrent resolutions.
/// Versions and relation fields are parsed only for the packages the search reaches.
public struct Resolver: Sendable {
    public let index: PackageIndex
    /// The target architecture (`amd64`); `Architecture: all` packages count as this one.
    public let architecture: String
    /// Virtual name → its providers (record position, provided version), in index order.
    let providers: [String: [Provider]]

    struct Provider: Sendable {
        let record: Int
        let version: DebianVersion?
    }

    public init(index: PackageIndex, architecture: String) {
        self.index = index
        self.architecture = architecture
        var providers: [String: [Provider]] = [:]
        for (i, record) in index.records.enumerated() {
            guard let text = record.provides else { continue }
            // An unparsable Provides provides nothing here; the search reports the field if
            // the package itself is ever a candidate.
            guard let list = try? RelationList(parsing: text) else { continue }
            for clause in list.clauses {
                for relation in clause {
                    providers[relation.name, default: []].append(
                        Provider(record: i, version: relation.versionConstraint?.version))
                }
            }
        }
        self.providers = providers
    }

    /// Resolves the variant's base set plus `requests` into a consistent set of packages, or
    /// throws the first dead end met when every alternative has been tried.
    public func resolve(
        _ requests: [PackageRequest], base: BaseVariant = .extract, options: ResolverOptions = ResolverOptions()
    ) throws(ResolverError) -> Resolution {
        var search = Search(resolver: self, options: options)
        for request in requests { try search.addRequest(request) }
        for name in baseNames(base) { search.addBase(name) }
        let chosen = try search.run()
        return Resolution(resolver: self, chosen: chosen, search: search)
    }

    /// The names of the variant's base set, sorted, for the target architecture.
    func baseNames(_ variant: BaseVariant) -> [String] {
        guard variant != .extract else { return [] }
        var names = Set<String>()
        // Fields read in place: copying each of ~63,000 records out of the array would retain
        // and release every string it holds.
        index.records.withUnsafeBufferPointer { records in
            for i in records.indices {
                guard records[i].isEssential || (variant == .minbase && records[i].priority == "required") else { continue }
                guard records[i].architecture == architecture || records[i].architecture == "all" else { continue }
                names.insert(records[i].name)
            }
        }
        if variant == .minbase && index.byName["apt"] != nil { names.insert("apt") }
        return names.sorted()
    }
}

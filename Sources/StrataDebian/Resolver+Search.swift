// The search behind `Resolver.resolve`: apt-like greedy choices (an alternative already chosen,
// else the first satisfiable one, the highest version first, a real package before a provider)
// with backtracking when a choice leads to a dead end. Every change to the state is logged on a
// trail, so going back to a choice point undoes exactly what came after it. A dead end names its
// culprits (the package that declared the failed relation, and the chosen packages that rule out
// each candidate); choice points made after all of them cannot change the outcome and are
// skipped (conflict-directed backjumping), which keeps unrelated alternatives from multiplying.

extension Resolver {
    /// One relation clause that must hold (or, when `soft`, should hold: Recommends).
    struct Obligation {
        let clause: RelationClause
        /// The record that declares it; -1 for a request or the base set.
        let from: Int
        /// What to call the declarer when `from` is -1.
        let root: String
        let soft: Bool
    }

    /// A chosen package's relation fields, parsed once.
    struct Relations {
        var preDepends: [RelationClause] = []
        var depends: [RelationClause] = []
        var recommends: [RelationClause] = []
        /// Conflicts and Breaks alike: neither may hold among the chosen packages.
        var conflicts: [(relation: Relation, field: String)] = []
        var provides: [(name: String, version: DebianVersion?)] = []
    }

    private enum Undo {
        case selected(key: String, record: Int)
        case chosenByName(String)
        case provider(String)
        case conflict(String)
    }

    /// A parse result kept in a cache: the value, or why the index entry is unusable.
    enum Parsed<Value> {
        case success(Value)
        case failure(ResolverError.Problem)

        var value: Value? {
            if case .success(let value) = self { return value }
            return nil
        }
    }

    /// Carries a problem out of a throwing parse (the problem itself is no Error).
    struct Rejection: Error {
        let problem: ResolverError.Problem
    }

    private struct ChoicePoint {
        let agendaIndex: Int
        /// Candidate records in preference order; nil skips a soft obligation.
        let options: [Int?]
        var next: Int
        let trailMark: Int
        let agendaCount: Int
    }

    struct Search {
        let resolver: Resolver
        let options: ResolverOptions
        let records: [PackageRecord]
        let native: String

        // Parse caches, keyed by record position: only reached packages are parsed.
        private var versions: [Int: Parsed<DebianVersion>] = [:]
        private var relations: [Int: Parsed<Relations>] = [:]

        private(set) var agenda: [Obligation] = []
        /// Selection key (`name`, or `name:arch` for Multi-Arch: same) → record.
        private(set) var selected: [String: Int] = [:]
        /// Record → the record whose relation chose it (-1: a request or the base set).
        private(set) var parentOf: [Int: Int] = [:]
        /// Chosen record → the trail position of its selection.
        private var selectedAt: [Int: Int] = [:]
        private var chosenByName: [String: [Int]] = [:]
        private var chosenProviders: [String: [(record: Int, version: DebianVersion?)]] = [:]
        /// Name → the Conflicts/Breaks of chosen packages that name it.
        private var conflictsOn: [String: [(relation: Relation, field: String, from: Int)]] = [:]
        private var trail: [Undo] = []
        private var steps = 0
        private var firstFailure: ResolverError?

        init(resolver: Resolver, options: ResolverOptions) {
            self.resolver = resolver
            self.options = options
            self.records = resolver.index.records
            self.native = resolver.architecture
        }

        mutating func addRequest(_ request: PackageRequest) throws(ResolverError) {
            var constraint: VersionConstraint?
            if let text = request.version {
                do {
                    constraint = VersionConstraint(.equal, try DebianVersion(text))
                } catch {
                    throw ResolverError(package: request.description, relation: nil, chain: [], problem: .invalidRequest(error.description))
                }
            }
            let relation = Relation(
                name: request.name, architectureQualifier: request.architecture.map { .architecture($0) },
                versionConstraint: constraint)
            agenda.append(Obligation(clause: RelationClause([relation]), from: -1, root: "request \(request)", soft: false))
        }

        mutating func addBase(_ name: String) {
            agenda.append(Obligation(clause: RelationClause([Relation(name: name)]), from: -1, root: "the base set", soft: false))
        }

        /// Runs the search to a consistent selection (record positions, unordered).
        mutating func run() throws(ResolverError) -> [Int] {
            var stack: [ChoicePoint] = []
            var i = 0
            while i < agenda.count {
                let obligation = agenda[i]
                if isSatisfied(obligation) { i += 1; continue }
                let (candidates, failure, culprits) = self.candidates(for: obligation)
                var choices: [Int?] = candidates
                if obligation.soft { choices.append(nil) }
                if choices.isEmpty {
                    if firstFailure == nil { firstFailure = failure }
                    // The latest trail position that matters: undoing anything after it leaves
                    // the same relation failing for the same reasons.
                    var horizon = obligation.from >= 0 ? (selectedAt[obligation.from] ?? -1) : -1
                    for culprit in culprits { horizon = max(horizon, selectedAt[culprit] ?? -1) }
                    guard let resume = try backtrack(&stack, horizon: horizon) else { throw firstFailure ?? failure }
                    i = resume
                    continue
                }
                if choices.count > 1 {
                    stack.append(ChoicePoint(
                        agendaIndex: i, options: choices, next: 1, trailMark: trail.count, agendaCount: agenda.count))
                }
                try choose(choices[0], for: obligation)
                i += 1
            }
            return Array(selected.values)
        }

        /// Goes back to the latest choice point made at or before trail position `horizon`
        /// with an untried option, takes that option and returns the agenda position after it;
        /// nil when no choice is left.
        private mutating func backtrack(_ stack: inout [ChoicePoint], horizon: Int) throws(ResolverError) -> Int? {
            while let last = stack.last, last.trailMark > horizon { stack.removeLast() }
            while var point = stack.popLast() {
                undo(to: point.trailMark)
                agenda.removeSubrange(point.agendaCount...)
                let option = point.options[point.next]
                point.next += 1
                if point.next < point.options.count { stack.append(point) }
                try choose(option, for: agenda[point.agendaIndex])
                return point.agendaIndex + 1
            }
            return nil
        }

        private mutating func choose(_ record: Int?, for obligation: Obligation) throws(ResolverError) {
            guard let record else { return }
            steps += 1
            if steps > options.stepLimit {
                let failure = firstFailure ?? self.failure(obligation, .searchLimit(options.stepLimit))
                throw ResolverError(
                    package: failure.package, relation: failure.relation, chain: failure.chain,
                    problem: .searchLimit(options.stepLimit))
            }
            // `candidates` only offers records whose fields parsed.
            guard case .success(let fields) = relations[record] else { return }
            let name = records[record].name
            let key = selectionKey(record)
            selected[key] = record
            selectedAt[record] = trail.count
            parentOf[record] = obligation.from
            trail.append(.selected(key: key, record: record))
            chosenByName[name, default: []].append(record)
            trail.append(.chosenByName(name))
            for provided in fields.provides {
                chosenProviders[provided.name, default: []].append((record, provided.version))
                trail.append(.provider(provided.name))
            }
            for conflict in fields.conflicts {
                conflictsOn[conflict.relation.name, default: []].append((conflict.relation, conflict.field, record))
                trail.append(.conflict(conflict.relation.name))
            }
            // Pre-Depends first: they are what must be ready before the package is unpacked.
            for clause in fields.preDepends {
                agenda.append(Obligation(clause: clause, from: record, root: "", soft: false))
            }
            for clause in fields.depends {
                agenda.append(Obligation(clause: clause, from: record, root: "", soft: false))
            }
            if options.recommends {
                for clause in fields.recommends {
                    agenda.append(Obligation(clause: clause, from: record, root: "", soft: true))
                }
            }
        }

        private mutating func undo(to mark: Int) {
            func drop<T>(_ map: inout [String: [T]], _ key: String) {
                map[key]!.removeLast()
                if map[key]!.isEmpty { map[key] = nil }
            }
            while trail.count > mark {
                switch trail.removeLast() {
                case .selected(let key, let record):
                    selected[key] = nil
                    selectedAt[record] = nil
                    parentOf[record] = nil
                case .chosenByName(let name): drop(&chosenByName, name)
                case .provider(let name): drop(&chosenProviders, name)
                case .conflict(let name): drop(&conflictsOn, name)
                }
            }
        }

        // MARK: Matching

        /// `name`, or `name:arch` for Multi-Arch: same packages, which may be installed once
        /// per architecture; every other package only once.
        private func selectionKey(_ record: Int) -> String {
            let r = records[record]
            return r.multiArch == .same ? r.name + ":" + effectiveArchitecture(r.architecture) : r.name
        }

        private func effectiveArchitecture(_ architecture: String) -> String {
            architecture == "all" ? native : architecture
        }

        /// The architecture a relation of `from` is evaluated for.
        private func dependentArchitecture(_ from: Int) -> String {
            from < 0 ? native : effectiveArchitecture(records[from].architecture)
        }

        /// Whether a package of `record`'s architecture and Multi-Arch may satisfy a relation
        /// with `qualifier` declared by a package of architecture `dependent` (the Multi-Arch spec).
        private func architectureFits(_ record: Int, _ qualifier: ArchitectureQualifier?, dependent: String) -> Bool {
            let r = records[record]
            let arch = effectiveArchitecture(r.architecture)
            switch qualifier {
            case nil: return arch == dependent || r.multiArch == .foreign
            case .any: return arch == dependent || r.multiArch == .foreign || r.multiArch == .allowed
            case .native: return arch == native
            case .architecture(let wanted): return arch == wanted
            }
        }

        private mutating func version(_ record: Int) -> Parsed<DebianVersion> {
            if let cached = versions[record] { return cached }
            let r = records[record]
            let result: Parsed<DebianVersion>
            do {
                result = .success(try DebianVersion(r.version))
            } catch {
                result = .failure(.invalidIndexEntry(candidate: "\(r.name) \(r.version)", reason: error.description))
            }
            versions[record] = result
            return result
        }

        private mutating func fields(_ record: Int) -> Parsed<Relations> {
            if let cached = relations[record] { return cached }
            let r = records[record]
            func parse(_ text: String?, _ field: String) throws(Rejection) -> [RelationClause] {
                guard let text else { return [] }
                do {
                    return try RelationList(parsing: text).forArchitecture(effectiveArchitecture(r.architecture)).clauses
                } catch {
                    throw Rejection(problem: .invalidIndexEntry(candidate: "\(r.name) \(r.version)", reason: "\(field): \(error.description)"))
                }
            }
            let result: Parsed<Relations>
            do throws(Rejection) {
                var parsed = Relations()
                parsed.preDepends = try parse(r.preDepends, "Pre-Depends")
                parsed.depends = try parse(r.depends, "Depends")
                if options.recommends { parsed.recommends = try parse(r.recommends, "Recommends") }
                // Policy allows no alternatives in Conflicts/Breaks; each one written counts.
                for clause in try parse(r.conflicts, "Conflicts") {
                    for relation in clause { parsed.conflicts.append((relation, "Conflicts")) }
                }
                for clause in try parse(r.breaks, "Breaks") {
                    for relation in clause { parsed.conflicts.append((relation, "Breaks")) }
                }
                for clause in try parse(r.provides, "Provides") {
                    for relation in clause { parsed.provides.append((relation.name, relation.versionConstraint?.version)) }
                }
                result = .success(parsed)
            } catch {
                result = .failure(error.problem)
            }
            relations[record] = result
            return result
        }

        /// Whether `record`, as a real package, satisfies `relation` declared for `dependent`.
        private mutating func realFits(_ record: Int, _ relation: Relation, dependent: String) -> Bool {
            guard records[record].name == relation.name,
                  architectureFits(record, relation.architectureQualifier, dependent: dependent),
                  case .success(let version) = version(record) else { return false }
            return relation.isSatisfied(by: version)
        }

        /// Whether a provider fits: an unversioned Provides never satisfies a versioned relation.
        private func providerFits(_ record: Int, _ provided: DebianVersion?, _ relation: Relation, dependent: String) -> Bool {
            guard architectureFits(record, relation.architectureQualifier, dependent: dependent) else { return false }
            guard let constraint = relation.versionConstraint else { return true }
            guard let provided else { return false }
            return constraint.isSatisfied(by: provided)
        }

        private mutating func isSatisfied(_ obligation: Obligation) -> Bool {
            chosenSatisfier(obligation.clause, from: obligation.from) != nil
        }

        /// The chosen record that satisfies `clause` of `from`: the first alternative that
        /// holds, a real package before a provider.
        mutating func chosenSatisfier(_ clause: RelationClause, from: Int) -> Int? {
            let dependent = dependentArchitecture(from)
            for relation in clause {
                for record in chosenByName[relation.name] ?? [] where realFits(record, relation, dependent: dependent) {
                    return record
                }
                for provider in chosenProviders[relation.name] ?? []
                where providerFits(provider.record, provider.version, relation, dependent: dependent) {
                    return provider.record
                }
            }
            return nil
        }

        /// The parsed fields of a chosen record (they parsed, or it would not be chosen).
        mutating func chosenFields(_ record: Int) -> Relations {
            fields(record).value ?? Relations()
        }

        // MARK: Candidates

        /// The records that could satisfy `obligation` now, in preference order; the error to
        /// report when there are none, and the chosen records that ruled candidates out.
        private mutating func candidates(for obligation: Obligation) -> ([Int], ResolverError, [Int]) {
            let dependent = dependentArchitecture(obligation.from)
            var ordered: [Int] = []
            var seen = Set<Int>()
            // A record whose version does not parse fits nothing; remember it to say so.
            var unusable: ResolverError.Problem?
            for relation in obligation.clause {
                for record in resolver.index.byName[relation.name] ?? [] {
                    if unusable == nil, case .failure(let problem) = version(record) { unusable = problem }
                }
                // Real packages first (highest version, then the dependent's architecture,
                // then index order), then providers.
                var real = (resolver.index.byName[relation.name] ?? []).filter { realFits($0, relation, dependent: dependent) }
                real = sortedByPreference(real, dependent: dependent)
                var provided: [Int] = []
                for provider in resolver.providers[relation.name] ?? []
                where providerFits(provider.record, provider.version, relation, dependent: dependent) {
                    provided.append(provider.record)
                }
                provided = sortedProviders(provided, dependent: dependent)
                for record in real + provided where seen.insert(record).inserted { ordered.append(record) }
            }
            var admissible: [Int] = []
            var rejection: ResolverError.Problem?
            var culprits: [Int] = []
            for record in ordered {
                if let (problem, culprit) = self.rejection(record) {
                    if rejection == nil { rejection = problem }
                    if let culprit { culprits.append(culprit) }
                } else {
                    admissible.append(record)
                }
            }
            if !admissible.isEmpty { return (admissible, failure(obligation, .notFound), []) }
            if let rejection = rejection ?? unusable { return ([], failure(obligation, rejection), culprits) }
            // Nothing fits at all: say what exists under those names.
            var available: [String] = []
            for relation in obligation.clause {
                for record in resolver.index.byName[relation.name] ?? [] {
                    let r = records[record]
                    available.append("\(r.name) \(r.version) (\(r.architecture)\(r.multiArch == .no ? "" : ", Multi-Arch: \(r.multiArch.rawValue)"))")
                }
                for provider in resolver.providers[relation.name] ?? [] {
                    let r = records[provider.record]
                    let version = provider.version.map { " (= \($0))" } ?? ""
                    available.append("\(relation.name)\(version) provided by \(r.name) \(r.version) (\(r.architecture))")
                }
            }
            return ([], failure(obligation, available.isEmpty ? .notFound : .noMatchingVersion(available: available)), [])
        }

        private mutating func sortedByPreference(_ candidates: [Int], dependent: String) -> [Int] {
            guard candidates.count > 1 else { return candidates }
            var keyed: [(record: Int, version: DebianVersion?, sameArch: Bool)] = []
            for record in candidates {
                let version = version(record).value
                keyed.append((record, version, effectiveArchitecture(records[record].architecture) == dependent))
            }
            keyed.sort { a, b in
                switch (a.version, b.version) {
                case let (x?, y?) where x != y: return x > y
                case (_?, nil): return true
                case (nil, _?): return false
                default: break
                }
                if a.sameArch != b.sameArch { return a.sameArch }
                return a.record < b.record
            }
            return keyed.map(\.record)
        }

        /// Providers by priority (required first, as apt's pick for a virtual package tends to
        /// be), then name, then the real-package order.
        private mutating func sortedProviders(_ candidates: [Int], dependent: String) -> [Int] {
            guard candidates.count > 1 else { return candidates }
            func rank(_ priority: String?) -> Int {
                switch priority {
                case "required": return 0
                case "important": return 1
                case "standard": return 2
                case "optional": return 3
                default: return 4
                }
            }
            var byName: [String: [Int]] = [:]
            for record in candidates { byName[records[record].name, default: []].append(record) }
            let names = byName.keys.sorted { a, b in
                let ra = byName[a]!.map { rank(records[$0].priority) }.min()!
                let rb = byName[b]!.map { rank(records[$0].priority) }.min()!
                return ra != rb ? ra < rb : a < b
            }
            var result: [Int] = []
            for name in names { result += sortedByPreference(byName[name]!, dependent: dependent) }
            return result
        }

        /// Why `record` cannot join the current selection and the chosen record responsible
        /// (nil when the index entry itself is at fault), or nil when it can join.
        private mutating func rejection(_ record: Int) -> (ResolverError.Problem, culprit: Int?)? {
            let r = records[record]
            let label = "\(r.name) \(r.version)"
            if case .failure(let problem) = version(record) { return (problem, nil) }
            let fields: Relations
            switch self.fields(record) {
            case .failure(let problem): return (problem, nil)
            case .success(let parsed): fields = parsed
            }
            if let other = selected[selectionKey(record)], other != record {
                let o = records[other]
                return (.otherVersionChosen(candidate: label, chosen: "\(o.name) \(o.version) (\(o.architecture))"), other)
            }
            let version = self.version(record).value
            // Chosen packages' Conflicts/Breaks against the candidate and what it provides.
            for entry in conflictsOn[r.name] ?? [] where entry.from != record {
                if let version, entry.relation.isSatisfied(by: version) {
                    return conflict(label, entry.from, declaredBy: entry.from, entry.relation, entry.field)
                }
            }
            for provided in fields.provides {
                for entry in conflictsOn[provided.name] ?? [] where entry.from != record {
                    // An unversioned conflict hits every provider; a versioned one only a
                    // versioned Provides that satisfies it.
                    let hits = entry.relation.versionConstraint.map { constraint in
                        provided.version.map { constraint.isSatisfied(by: $0) } ?? false
                    } ?? true
                    if hits { return conflict(label, entry.from, declaredBy: entry.from, entry.relation, entry.field) }
                }
            }
            // The candidate's own Conflicts/Breaks against chosen packages and providers.
            for (relation, field) in fields.conflicts {
                for other in chosenByName[relation.name] ?? [] where other != record {
                    if case .success(let v) = self.version(other), relation.isSatisfied(by: v) {
                        return conflict(label, other, declaredBy: record, relation, field)
                    }
                }
                for provider in chosenProviders[relation.name] ?? [] where provider.record != record {
                    let hits: Bool
                    if let constraint = relation.versionConstraint {
                        hits = provider.version.map { constraint.isSatisfied(by: $0) } ?? false
                    } else {
                        hits = true
                    }
                    if hits { return conflict(label, provider.record, declaredBy: record, relation, field) }
                }
            }
            return nil
        }

        /// A clash of `candidate` with the chosen `other`, which is the culprit.
        private func conflict(_ candidate: String, _ other: Int, declaredBy: Int, _ relation: Relation, _ field: String) -> (ResolverError.Problem, culprit: Int?) {
            let o = records[other], d = records[declaredBy]
            let problem = ResolverError.Problem.conflict(
                candidate: candidate, other: "\(o.name) \(o.version)", declaredBy: "\(d.name) \(d.version)",
                relation: "\(field): \(relation)")
            return (problem, other)
        }

        // MARK: Explanations

        private func failure(_ obligation: Obligation, _ problem: ResolverError.Problem) -> ResolverError {
            let package: String
            if obligation.from < 0 {
                package = obligation.root
            } else {
                let r = records[obligation.from]
                package = "\(r.name) \(r.version)"
            }
            return ResolverError(
                package: package, relation: obligation.clause.description,
                chain: chain(to: obligation.from) + [obligation.clause.description], problem: problem)
        }

        /// Names from the request (or base set) down to `record`, by who chose whom.
        func chain(to record: Int) -> [String] {
            var names: [String] = []
            var current = record
            // Parents were chosen before their children, so the walk ends; the bound is a guard.
            while current >= 0 && names.count <= records.count {
                names.append(records[current].name)
                current = parentOf[current] ?? -1
            }
            return names.reversed()
        }
    }
}

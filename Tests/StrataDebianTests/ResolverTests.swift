import Foundation
import Testing
import StrataModel
@testable import StrataDebian

@Suite struct ResolverTests {
    // MARK: Fixtures

    static let zeroDigest = try! Digest(hex: String(repeating: "0", count: 64))

    static func pkg(
        _ name: String, _ version: String = "1.0", arch: String = "amd64", multiArch: MultiArch = .no,
        essential: Bool = false, priority: String? = nil, depends: String? = nil, preDepends: String? = nil,
        recommends: String? = nil, conflicts: String? = nil, breaks: String? = nil, provides: String? = nil
    ) -> PackageRecord {
        PackageRecord(
            name: name, version: version, architecture: arch, multiArch: multiArch, isEssential: essential,
            priority: priority, depends: depends, preDepends: preDepends, recommends: recommends,
            conflicts: conflicts, breaks: breaks, provides: provides,
            filename: "pool/main/\(name)_\(version)_\(arch).deb", size: 1, sha256: zeroDigest)
    }

    static func resolve(
        _ records: [PackageRecord], _ requests: [String], base: BaseVariant = .extract,
        recommends: Bool = false, stepLimit: Int = 200_000
    ) throws -> Resolution {
        let resolver = Resolver(index: PackageIndex(records: records), architecture: "amd64")
        return try resolver.resolve(
            requests.map { try PackageRequest(parsing: $0) }, base: base,
            options: ResolverOptions(recommends: recommends, stepLimit: stepLimit))
    }

    /// `name version` of every chosen package (with `:arch` when not amd64), sorted.
    static func chosen(_ records: [PackageRecord], _ requests: [String], base: BaseVariant = .extract, recommends: Bool = false) throws -> [String] {
        try resolve(records, requests, base: base, recommends: recommends).packages.map {
            $0.architecture == "amd64" ? "\($0.name) \($0.version)" : "\($0.name):\($0.architecture) \($0.version)"
        }
    }

    static func failure(_ records: [PackageRecord], _ requests: [String], stepLimit: Int = 200_000) -> ResolverError? {
        do {
            _ = try resolve(records, requests, stepLimit: stepLimit)
            return nil
        } catch let error as ResolverError {
            return error
        } catch {
            return nil
        }
    }

    // MARK: Versions and operators

    @Test(arguments: [
        ("<< 2", "1"), ("<= 2", "2"), ("= 2", "2"), (">= 2", "3"), (">> 2", "3"), ("<< 3", "2"), (">= 1", "3"),
    ])
    func everyOperatorPicksTheHighestVersionThatFits(constraint: String, expected: String) throws {
        let index = [
            Self.pkg("a", depends: "b (\(constraint))"),
            Self.pkg("b", "1"), Self.pkg("b", "3"), Self.pkg("b", "2"),
        ]
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0", "b \(expected)"])
    }

    @Test func dpkgOrderingDecidesVersions() throws {
        // ~ sorts before everything, epochs dominate, revisions count.
        let index = [
            Self.pkg("a", depends: "b (>= 1.0~rc1), c (>> 1.0-1), d (<< 1:0.1)"),
            Self.pkg("b", "1.0~beta"), Self.pkg("b", "1.0~rc2"),
            Self.pkg("c", "1.0-1"), Self.pkg("c", "1.0-1.1"),
            Self.pkg("d", "1:0.1"), Self.pkg("d", "9.9"),
        ]
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0", "b 1.0~rc2", "c 1.0-1.1", "d 9.9"])
    }

    @Test func exactVersionAndArchitectureRequests() throws {
        let index = [Self.pkg("git", "1:2.39.2-1"), Self.pkg("git", "1:2.39.5-0+deb12u2"), Self.pkg("git", "1:2.39.2-1", arch: "i386")]
        #expect(try Self.chosen(index, ["git"]) == ["git 1:2.39.5-0+deb12u2"])
        #expect(try Self.chosen(index, ["git=1:2.39.2-1"]) == ["git 1:2.39.2-1"])
        #expect(try Self.chosen(index, ["git:i386"]) == ["git:i386 1:2.39.2-1"])
        let request = try PackageRequest(parsing: "libssl-dev:amd64=3.0.15-1~deb12u1")
        #expect(request == PackageRequest(name: "libssl-dev", version: "3.0.15-1~deb12u1", architecture: "amd64"))
        #expect(request.description == "libssl-dev:amd64=3.0.15-1~deb12u1")
        for bad in ["", "=1.0", "git=", "git:", "Git", "a b", "git=x1"] {
            #expect(throws: ResolverError.self) { try PackageRequest(parsing: bad) }
        }
        let missing = Self.failure(index, ["git=3.0"])
        guard case .noMatchingVersion(let available)? = missing?.problem else {
            Issue.record("expected noMatchingVersion, got \(String(describing: missing))"); return
        }
        #expect(available.count == 3)
    }

    // MARK: Alternatives

    @Test func alternativesTakeTheFirstSatisfiable() throws {
        let both = [Self.pkg("a", depends: "x | y"), Self.pkg("x"), Self.pkg("y")]
        #expect(try Self.chosen(both, ["a"]) == ["a 1.0", "x 1.0"])
        let onlySecond = [Self.pkg("a", depends: "x (>= 2) | y"), Self.pkg("x"), Self.pkg("y")]
        #expect(try Self.chosen(onlySecond, ["a"]) == ["a 1.0", "y 1.0"])
        let missingFirst = [Self.pkg("a", depends: "nothere | y"), Self.pkg("y")]
        #expect(try Self.chosen(missingFirst, ["a"]) == ["a 1.0", "y 1.0"])
    }

    @Test func alternativesPreferWhatIsAlreadyChosen() throws {
        let index = [Self.pkg("a", depends: "x | y"), Self.pkg("x"), Self.pkg("y")]
        #expect(try Self.chosen(index, ["y", "a"]) == ["a 1.0", "y 1.0"])
        // Chosen later in the same resolution, through another dependency, counts as well
        // once it is chosen before the clause is considered.
        let viaDependency = [Self.pkg("a", depends: "b, x | y"), Self.pkg("b", preDepends: "y"), Self.pkg("x"), Self.pkg("y")]
        #expect(try Self.chosen(viaDependency, ["b", "a"]) == ["a 1.0", "b 1.0", "y 1.0"])
    }

    // MARK: Virtual packages

    @Test func virtualPackagesThroughProvides() throws {
        let index = [
            Self.pkg("a", depends: "awk"),
            Self.pkg("gawk", priority: "optional", provides: "awk"),
            Self.pkg("mawk", priority: "required", provides: "awk"),
        ]
        // Several providers: the higher priority first (apt picks mawk too).
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0", "mawk 1.0"])
        // One already chosen satisfies the virtual.
        #expect(try Self.chosen(index, ["gawk", "a"]) == ["a 1.0", "gawk 1.0"])
    }

    @Test func versionedProvides() throws {
        let index = [
            Self.pkg("a", depends: "foo (>= 1)"),
            Self.pkg("unversioned", provides: "foo"),
            Self.pkg("versioned", provides: "foo (= 1.0)"),
        ]
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0", "versioned 1.0"])
        // An unversioned Provides never satisfies a versioned dependency.
        let onlyUnversioned = [Self.pkg("a", depends: "foo (>= 1)"), Self.pkg("unversioned", provides: "foo")]
        let error = Self.failure(onlyUnversioned, ["a"])
        #expect(error?.relation == "foo (>= 1)")
        guard case .noMatchingVersion(let available)? = error?.problem else {
            Issue.record("expected noMatchingVersion, got \(String(describing: error))"); return
        }
        #expect(available == ["foo provided by unversioned 1.0 (amd64)"])
        // An unversioned dependency takes either.
        let plain = [Self.pkg("a", depends: "foo"), Self.pkg("unversioned", provides: "foo")]
        #expect(try Self.chosen(plain, ["a"]) == ["a 1.0", "unversioned 1.0"])
        // A versioned Provides that is too low does not count.
        let tooLow = [Self.pkg("a", depends: "foo (>= 2)"), Self.pkg("versioned", provides: "foo (= 1.0)")]
        #expect(Self.failure(tooLow, ["a"]) != nil)
    }

    @Test func aRealPackageBeatsAProviderOfTheSameName() throws {
        let index = [
            Self.pkg("a", depends: "mail"),
            Self.pkg("alpha", provides: "mail"),
            Self.pkg("mail", "2.0"),
        ]
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0", "mail 2.0"])
    }

    // MARK: Install order

    @Test func preDependsAndDependsComeFirstInTheInstallOrder() throws {
        let index = [
            Self.pkg("a", depends: "b"), Self.pkg("b", preDepends: "c"), Self.pkg("c", depends: "d"), Self.pkg("d"),
        ]
        let order = try Self.resolve(index, ["a"]).installOrder().map(\.name)
        #expect(order == ["d", "c", "b", "a"])
    }

    @Test func cyclesBreakOnDependsAndKeepPreDepends() throws {
        // x Depends y, y Pre-Depends x: x must come first whatever the names say.
        let index = [Self.pkg("y", preDepends: "x"), Self.pkg("x", depends: "y"), Self.pkg("top", depends: "x, y")]
        #expect(try Self.resolve(index, ["top"]).installOrder().map(\.name) == ["x", "y", "top"])
        let reversed = [Self.pkg("x", preDepends: "y"), Self.pkg("y", depends: "x"), Self.pkg("top", depends: "x")]
        #expect(try Self.resolve(reversed, ["top"]).installOrder().map(\.name) == ["y", "x", "top"])
        // A pure Depends cycle is ordered by name, deterministically.
        let plain = [Self.pkg("q", depends: "p"), Self.pkg("p", depends: "q")]
        #expect(try Self.resolve(plain, ["q"]).installOrder().map(\.name) == ["p", "q"])
    }

    // MARK: Multi-Arch

    @Test func multiArchForeignSatisfiesAnyArchitecture() throws {
        let foreign = [Self.pkg("a", depends: "tool"), Self.pkg("tool", arch: "i386", multiArch: .foreign)]
        #expect(try Self.chosen(foreign, ["a"]) == ["a 1.0", "tool:i386 1.0"])
        let notForeign = [Self.pkg("a", depends: "tool"), Self.pkg("tool", arch: "i386")]
        #expect(Self.failure(notForeign, ["a"]) != nil)
    }

    @Test func multiArchAllowedSatisfiesAnyQualifier() throws {
        let allowed = [Self.pkg("a", depends: "perl:any"), Self.pkg("perl", arch: "i386", multiArch: .allowed)]
        #expect(try Self.chosen(allowed, ["a"]) == ["a 1.0", "perl:i386 1.0"])
        // Without `:any`, an allowed package of another architecture does not fit.
        let unqualified = [Self.pkg("a", depends: "perl"), Self.pkg("perl", arch: "i386", multiArch: .allowed)]
        #expect(Self.failure(unqualified, ["a"]) != nil)
        // `:any` on a package that is not Multi-Arch allowed or foreign: same architecture only.
        let plain = [Self.pkg("a", depends: "perl:any"), Self.pkg("perl", arch: "i386")]
        #expect(Self.failure(plain, ["a"]) != nil)
        // The native one is preferred when both exist.
        let both = [
            Self.pkg("a", depends: "perl:any"), Self.pkg("perl", arch: "i386", multiArch: .allowed),
            Self.pkg("perl", multiArch: .allowed),
        ]
        #expect(try Self.chosen(both, ["a"]) == ["a 1.0", "perl 1.0"])
    }

    @Test func multiArchSameCoinstallsAndArchitectureAllIsNative() throws {
        let index = [
            Self.pkg("libx", multiArch: .same), Self.pkg("libx", arch: "i386", multiArch: .same),
            Self.pkg("app", arch: "i386", depends: "libx"),
            Self.pkg("data", arch: "all", depends: "libx"),
        ]
        #expect(try Self.chosen(index, ["app:i386", "data"]) == ["app:i386 1.0", "data:all 1.0", "libx 1.0", "libx:i386 1.0"])
        // Without Multi-Arch: same, one package name is installed for one architecture only.
        let single = [Self.pkg("liby"), Self.pkg("liby", arch: "i386"), Self.pkg("app", arch: "i386", depends: "liby")]
        let error = Self.failure(single, ["liby", "app:i386"])
        guard case .otherVersionChosen? = error?.problem else {
            Issue.record("expected otherVersionChosen, got \(String(describing: error))"); return
        }
    }

    // MARK: Conflicts and Breaks

    @Test func conflictsForceAnotherAlternative() throws {
        let index = [
            Self.pkg("a", depends: "x | y"), Self.pkg("x", conflicts: "c"), Self.pkg("y"), Self.pkg("c"),
        ]
        #expect(try Self.chosen(index, ["c", "a"]) == ["a 1.0", "c 1.0", "y 1.0"])
        // The other direction: a chosen package's Conflicts rule out a later candidate.
        let declaredByChosen = [
            Self.pkg("a", depends: "x | y"), Self.pkg("x"), Self.pkg("y"), Self.pkg("c", conflicts: "x"),
        ]
        #expect(try Self.chosen(declaredByChosen, ["c", "a"]) == ["a 1.0", "c 1.0", "y 1.0"])
    }

    @Test func versionedBreaksForceAnotherAlternative() throws {
        let index = [
            Self.pkg("a", depends: "x | y"), Self.pkg("x", breaks: "c (<< 2)"), Self.pkg("y"), Self.pkg("c", "1"),
        ]
        #expect(try Self.chosen(index, ["c", "a"]) == ["a 1.0", "c 1", "y 1.0"])
        // Breaks that do not hit the chosen version change nothing.
        let harmless = [Self.pkg("a", depends: "x | y"), Self.pkg("x", breaks: "c (<< 1)"), Self.pkg("y"), Self.pkg("c", "1")]
        #expect(try Self.chosen(harmless, ["c", "a"]) == ["a 1.0", "c 1", "x 1.0"])
    }

    @Test func conflictsOnAVirtualHitItsProvidersButNotThePackageItself() throws {
        // The usual pattern for exclusive providers: Provides, Conflicts and Replaces one name.
        let index = [
            Self.pkg("mta1", conflicts: "mail-transport-agent", provides: "mail-transport-agent"),
            Self.pkg("mta2", conflicts: "mail-transport-agent", provides: "mail-transport-agent"),
            Self.pkg("a", depends: "mta2 | other"), Self.pkg("other"),
        ]
        #expect(try Self.chosen(index, ["mta1"]) == ["mta1 1.0"])
        #expect(try Self.chosen(index, ["mta1", "a"]) == ["a 1.0", "mta1 1.0", "other 1.0"])
    }

    @Test func backtrackingReachesAnEarlierChoice() throws {
        // The conflict shows only one level down: b is tried, its dependency d conflicts
        // with e, so the search goes back and takes c.
        let index = [
            Self.pkg("a", depends: "b | c"), Self.pkg("b", depends: "d"), Self.pkg("c"),
            Self.pkg("d", conflicts: "e"), Self.pkg("e"),
        ]
        #expect(try Self.chosen(index, ["e", "a"]) == ["a 1.0", "c 1.0", "e 1.0"])
        // The highest version that works: b 2 needs a c that does not exist, b 1 does not.
        let versions = [
            Self.pkg("a", depends: "b"), Self.pkg("b", "2", depends: "c (>= 2)"), Self.pkg("b", "1", depends: "c"),
            Self.pkg("c", "1"),
        ]
        #expect(try Self.chosen(versions, ["a"]) == ["a 1.0", "b 1", "c 1"])
    }

    @Test func anUnavoidableConflictNamesBothPackagesAndTheRelation() throws {
        let index = [Self.pkg("a", depends: "x"), Self.pkg("x", "2", conflicts: "c (<< 3)"), Self.pkg("c", "1")]
        let error = try #require(Self.failure(index, ["c", "a"]))
        #expect(error.package == "a 1.0")
        #expect(error.relation == "x")
        #expect(error.chain == ["a", "x"])
        #expect(error.problem == .conflict(candidate: "x 2", other: "c 1", declaredBy: "x 2", relation: "Conflicts: c (<< 3)"))
        #expect(error.description.contains("x 2 cannot be installed with c 1"))
    }

    // MARK: Explanations and bounds

    @Test func unsatisfiableExplainsTheChain() throws {
        let index = [
            Self.pkg("python3", "3.11.2-1+b1", depends: "python3.11 (>= 3.11.2-1~)"),
            Self.pkg("python3.11", "3.11.2-6", depends: "libpython3.11-stdlib (= 3.11.2-6)"),
            Self.pkg("libpython3.11-stdlib", "3.11.2-6", depends: "libc6 (>= 2.36), libffi8 (>= 3.4)"),
            Self.pkg("libc6", "2.36-9"),
            Self.pkg("libffi8", "3.2.1-9"),
        ]
        let error = try #require(Self.failure(index, ["python3"]))
        #expect(error.package == "libpython3.11-stdlib 3.11.2-6")
        #expect(error.relation == "libffi8 (>= 3.4)")
        #expect(error.chain == ["python3", "python3.11", "libpython3.11-stdlib", "libffi8 (>= 3.4)"])
        #expect(error.problem == .noMatchingVersion(available: ["libffi8 3.2.1-9 (amd64)"]))
        #expect(error.description.contains("python3 → python3.11 → libpython3.11-stdlib → libffi8 (>= 3.4)"))
        // A request for nothing known.
        let unknown = try #require(Self.failure(index, ["nope"]))
        #expect(unknown.problem == .notFound)
        #expect(unknown.chain == ["nope"])
    }

    @Test func deadEndsSkipChoicesThatCannotHelp() throws {
        // 20 clauses of two alternatives each, and a final conflict none of them causes:
        // 2^20 combinations for a chronological search, one dead end with backjumping.
        var index: [PackageRecord] = [Self.pkg("blocker"), Self.pkg("doomed", conflicts: "blocker")]
        var clauses: [String] = []
        for i in 0..<20 {
            clauses.append("l\(i) | r\(i)")
            index += [Self.pkg("l\(i)"), Self.pkg("r\(i)")]
        }
        index.append(Self.pkg("top", depends: clauses.joined(separator: ", ") + ", doomed"))
        let error = try #require(Self.failure(index, ["blocker", "top"], stepLimit: 100))
        #expect(error.problem == .conflict(candidate: "doomed 1.0", other: "blocker 1.0", declaredBy: "doomed 1.0", relation: "Conflicts: blocker"))
        #expect(error.relation == "doomed")
        #expect(error.chain == ["top", "doomed"])
    }

    @Test func unsatisfiableSearchesStopWithinTheirBound() throws {
        // Pigeonhole: 9 pigeons, 8 exclusive holes (each hole's packages provide and conflict
        // with the hole's name). Every dead end involves the latest choices, so only the step
        // limit ends the search.
        var index: [PackageRecord] = []
        var pigeons: [String] = []
        for pigeon in 0..<9 {
            var holes: [String] = []
            for hole in 0..<8 {
                index.append(Self.pkg("p\(pigeon)-h\(hole)", conflicts: "hole\(hole)", provides: "hole\(hole)"))
                holes.append("p\(pigeon)-h\(hole)")
            }
            index.append(Self.pkg("pigeon\(pigeon)", depends: holes.joined(separator: " | ")))
            pigeons.append("pigeon\(pigeon)")
        }
        // The bound on the work is the step limit itself: .searchLimit is thrown by the choice
        // that would exceed it, and nothing else ends this search.
        let error = try #require(Self.failure(index, pigeons, stepLimit: 2_000))
        #expect(error.problem == .searchLimit(2_000))
        #expect(error.package == "pigeon8 1.0")
        #expect(error.chain.first == "pigeon8")
    }

    // MARK: Determinism, base sets, Recommends

    @Test func sameInputSameOutputWhateverTheIndexOrder() throws {
        var index = [
            Self.pkg("a", depends: "x | y, v, z (>= 1)"), Self.pkg("x", conflicts: "c"), Self.pkg("y"), Self.pkg("c"),
            Self.pkg("p1", provides: "v"), Self.pkg("p2", provides: "v"), Self.pkg("z", "1"), Self.pkg("z", "2"),
        ]
        let first = try Self.resolve(index, ["c", "a"])
        let second = try Self.resolve(index, ["c", "a"])
        #expect(first.packages == second.packages)
        #expect(first.installOrder() == second.installOrder())
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10 {
            index.shuffle(using: &generator)
            let shuffled = try Self.resolve(index, ["c", "a"])
            #expect(shuffled.packages.map(\.name) == first.packages.map(\.name))
            #expect(shuffled.installOrder().map(\.name) == first.installOrder().map(\.name))
        }
        #expect(first.packages.map(\.name) == ["a", "c", "p1", "y", "z"])
    }

    @Test func variantsChooseTheirBaseSet() throws {
        let index = [
            Self.pkg("base-files", essential: true, priority: "required", preDepends: "libc6"),
            Self.pkg("libc6", priority: "optional"),
            Self.pkg("mawk", priority: "required"),
            Self.pkg("apt", priority: "important"),
            Self.pkg("hello"),
            Self.pkg("other-arch-essential", arch: "i386", essential: true),
        ]
        #expect(try Self.chosen(index, ["hello"], base: .extract) == ["hello 1.0"])
        #expect(try Self.chosen(index, ["hello"], base: .essential) == ["base-files 1.0", "hello 1.0", "libc6 1.0"])
        #expect(try Self.chosen(index, ["hello"], base: .minbase) == ["apt 1.0", "base-files 1.0", "hello 1.0", "libc6 1.0", "mawk 1.0"])
        let resolution = try Self.resolve(index, [], base: .essential)
        #expect(resolution.chains == [["base-files"], ["base-files", "libc6"]])
    }

    @Test func recommendsOnlyWhenAskedAndSoft() throws {
        let index = [
            Self.pkg("a", recommends: "r, missing, bad"), Self.pkg("r"), Self.pkg("bad", conflicts: "a"),
        ]
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0"])
        #expect(try Self.chosen(index, ["a"], recommends: true) == ["a 1.0", "r 1.0"])
    }

    @Test func anInvalidIndexEntryIsReportedNotFatal() throws {
        let index = [Self.pkg("a", depends: "b | c"), Self.pkg("b", depends: "(>= 1)"), Self.pkg("c")]
        #expect(try Self.chosen(index, ["a"]) == ["a 1.0", "c 1.0"])
        let error = try #require(Self.failure([Self.pkg("a", depends: "b"), Self.pkg("b", "x1")], ["a"]))
        guard case .invalidIndexEntry(let candidate, _) = error.problem else {
            Issue.record("expected invalidIndexEntry, got \(error)"); return
        }
        #expect(candidate == "b x1")
    }

    // MARK: The host's real index

    /// minbase + python3 against the host's bookworm main amd64 index (when it has one):
    /// a consistent set holding the base and the interpreter, in an order that respects
    /// every Pre-Depends outside a cycle.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: RelationTests.hostIndex)
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/lz4")))
    func resolvesMinbasePlusPython3OnTheHostsBookwormIndex() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/lz4")
        process.arguments = ["-dc", RelationTests.hostIndex]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let index = try PackageIndex(parsing: [UInt8](data))
        let resolution = try Resolver(index: index, architecture: "amd64").resolve([PackageRequest(name: "python3")], base: .minbase)
        let names = Set(resolution.packages.map(\.name))
        for name in ["python3", "apt", "dpkg", "libc6", "base-files", "bash", "coreutils"] { #expect(names.contains(name)) }
        #expect((100...150).contains(resolution.packages.count))
        let order = resolution.installOrder()
        #expect(Set(order.map(\.name)) == names)
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1.name, $0) })
        #expect(position["libc6"]! < position["dpkg"]!)
        #expect(position["python3.11-minimal"]! < position["python3"]!)
        // No Pre-Depends cycle in this set: every Pre-Depends target comes first.
        let positions = resolution.installOrderPositions()
        let rank = Dictionary(uniqueKeysWithValues: positions.enumerated().map { ($1, $0) })
        for (member, targets) in resolution.preDependsOn.enumerated() {
            for target in targets {
                #expect(rank[target]! < rank[member]!, "\(resolution.packages[member].name) pre-depends on \(resolution.packages[target].name)")
            }
        }
    }
}

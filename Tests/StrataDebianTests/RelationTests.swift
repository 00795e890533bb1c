import Foundation
import Testing

@testable import StrataDebian

@Suite struct RelationTests {
    func parse(_ text: String) throws -> RelationList { try RelationList(parsing: text) }

    func version(_ text: String) throws -> DebianVersion { try DebianVersion(text) }

    @Test func parsesAPlainDependsField() throws {
        let list = try parse("libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.1.4)")
        #expect(list.clauses.count == 3)
        #expect(list.clauses.map { $0.count } == [1, 1, 1])
        let zlib = list.clauses[2][0]
        #expect(zlib.name == "zlib1g")
        #expect(zlib.versionConstraint == VersionConstraint(.laterOrEqual, try version("1:1.1.4")))
        #expect(zlib.architectureQualifier == nil)
        #expect(zlib.architectureRestriction == nil)
        #expect(list.description == "libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.1.4)")
    }

    @Test(arguments: [
        ("<<", RelationOperator.earlier), ("<=", .earlierOrEqual), ("=", .equal), (">=", .laterOrEqual),
        (">>", .later), ("<", .earlierOrEqual), (">", .laterOrEqual),
    ])
    func parsesEveryOperator(_ written: String, _ expected: RelationOperator) throws {
        for text in ["foo (\(written) 1.0)", "foo(\(written)1.0)", "foo ( \(written)  1.0 )"] {
            let relation = try parse(text).clauses[0][0]
            #expect(relation.versionConstraint?.relation == expected, "\(text)")
            #expect(relation.versionConstraint?.version.description == "1.0")
        }
    }

    @Test func constraintsAreSatisfiedByDpkgOrder() throws {
        // (operator, constraint version, candidate, satisfied)
        let cases: [(RelationOperator, String, String, Bool)] = [
            (.earlier, "2.0", "1.9", true), (.earlier, "2.0", "2.0", false), (.earlier, "2.0", "2.0~rc1", true),
            (.earlierOrEqual, "2.0", "2.0", true), (.earlierOrEqual, "2.0", "2.0-1", false),
            (.earlierOrEqual, "2.0", "2.00", true),
            (.equal, "1:2.39.5-0+deb12u2", "1:2.39.5-0+deb12u2", true), (.equal, "1.0", "1.0-0", true),
            (.equal, "1.0", "1.0-1", false), (.equal, "1.0", "1:1.0", false),
            (.laterOrEqual, "2.36", "2.36-9+deb12u4", true), (.laterOrEqual, "2.36", "2.36~", false),
            (.laterOrEqual, "1:1.1.4", "1:1.2.13.dfsg-1", true), (.laterOrEqual, "1:1.1.4", "1.2.13", false),
            (.later, "1.0", "1.0", false), (.later, "1.0", "1.0+b1", true), (.later, "1.0", "1.0.0", true),
        ]
        for (op, constraint, candidate, satisfied) in cases {
            let c = VersionConstraint(op, try version(constraint))
            #expect(c.isSatisfied(by: try version(candidate)) == satisfied, "\(candidate) \(op.rawValue) \(constraint)")
        }
        let unversioned = Relation(name: "foo")
        #expect(unversioned.isSatisfied(by: try version("0~")))
    }

    @Test func parsesAlternatives() throws {
        let list = try parse("default-mta | mail-transport-agent, debconf (>= 0.5) | debconf-2.0")
        #expect(list.clauses.count == 2)
        #expect(list.clauses[0].map(\.name) == ["default-mta", "mail-transport-agent"])
        #expect(list.clauses[1].map(\.name) == ["debconf", "debconf-2.0"])
        #expect(list.clauses[1][0].versionConstraint?.relation == .laterOrEqual)
        #expect(list.clauses[1][1].versionConstraint == nil)
        #expect(list.clauses[1].alternatives == [list.clauses[1][0], list.clauses[1][1]])
        #expect(list.description == "default-mta | mail-transport-agent, debconf (>= 0.5) | debconf-2.0")
    }

    @Test func keepsArchitectureQualifiers() throws {
        let list = try parse("python3:any (>= 3.11~), libfoo:native, libbar:amd64 (= 1.0), gcc-12:i386")
        #expect(list.clauses[0][0].architectureQualifier == .any)
        #expect(list.clauses[0][0].name == "python3")
        #expect(list.clauses[0][0].versionConstraint?.version.description == "3.11~")
        #expect(list.clauses[1][0].architectureQualifier == .native)
        #expect(list.clauses[2][0].architectureQualifier == .architecture("amd64"))
        #expect(list.clauses[3][0].architectureQualifier == .architecture("i386"))
        #expect(list.description == "python3:any (>= 3.11~), libfoo:native, libbar:amd64 (= 1.0), gcc-12:i386")
    }

    @Test func parsesArchitectureListsAndFiltersByArchitecture() throws {
        let list = try parse(
            "libc6-dev [amd64 arm64] | libc-dev, libseccomp-dev [linux-any], libkvm-dev [kfreebsd-any], "
                + "valgrind [!hurd-any !armel], gcc-multilib [any-amd64], hello")
        let first = list.clauses[0][0]
        #expect(first.architectureRestriction == ArchitectureRestriction(isNegated: false, architectures: ["amd64", "arm64"]))
        #expect(list.clauses[3][0].architectureRestriction?.isNegated == true)

        let amd64 = list.forArchitecture("amd64")
        #expect(amd64.description == "libc6-dev [amd64 arm64] | libc-dev, libseccomp-dev [linux-any], valgrind [!hurd-any !armel], gcc-multilib [any-amd64], hello")
        let i386 = list.forArchitecture("i386")
        #expect(i386.description == "libc-dev, libseccomp-dev [linux-any], valgrind [!hurd-any !armel], hello")
        let armel = list.forArchitecture("armel")
        #expect(armel.clauses.map { $0.map(\.name) } == [["libc-dev"], ["libseccomp-dev"], ["hello"]])
        let hurd = list.forArchitecture("hurd-i386")
        #expect(hurd.clauses.map { $0.map(\.name) } == [["libc-dev"], ["hello"]])
        let kfreebsd = list.forArchitecture("kfreebsd-amd64")
        #expect(kfreebsd.clauses.map { $0.map(\.name) } == [["libc-dev"], ["libkvm-dev"], ["valgrind"], ["gcc-multilib"], ["hello"]])
        let plain = try parse("libc6 (>= 2.36), a | b")
        #expect(plain.forArchitecture("arm64") == plain)
        #expect(ArchitectureRestriction(isNegated: false, architectures: ["any-amd64"]).includes("x32"))
        #expect(ArchitectureRestriction(isNegated: false, architectures: ["any-arm"]).includes("armhf"))
        #expect(!ArchitectureRestriction(isNegated: false, architectures: ["any-arm"]).includes("arm64"))
        #expect(ArchitectureRestriction(isNegated: false, architectures: ["any"]).includes("riscv64"))
    }

    @Test func ignoresBuildProfiles() throws {
        let list = try parse("python3-pytest <!nocheck>, libfoo-dev [amd64] <!stage1> <!cross nocheck>, bar (>= 1) <!nodoc>")
        #expect(list.clauses.count == 3)
        #expect(list.clauses[0][0] == Relation(name: "python3-pytest"))
        #expect(list.clauses[1][0].architectureRestriction?.architectures == ["amd64"])
        #expect(list.clauses[2][0].versionConstraint?.relation == .laterOrEqual)
        #expect(list.description == "python3-pytest, libfoo-dev [amd64], bar (>= 1)")
    }

    @Test func foldsWhitespaceAndNewlines() throws {
        let folded = try parse("\n libc6 (>= 2.34),\n libgcc-s1\t(>= 3.0) |\n  libgcc1 ,\r\n zlib1g  ( >=\n 1:1.2.0 )\n")
        #expect(folded.description == "libc6 (>= 2.34), libgcc-s1 (>= 3.0) | libgcc1, zlib1g (>= 1:1.2.0)")
        #expect(try parse("a|b,c").description == "a | b, c")
        #expect(try parse("").clauses.isEmpty)
        #expect(try parse(" \n\t ").clauses.isEmpty)
    }

    @Test func parsesSubstrings() throws {
        let stanza = "Depends: libc6 (>= 2.34), perl:any\nDescription: x"
        let value = stanza.split(separator: "\n")[0].dropFirst("Depends:".count)
        #expect(try RelationList(parsing: value).description == "libc6 (>= 2.34), perl:any")
    }

    @Test(arguments: [
        ("foo,", 4, RelationError.Problem.missingPackageName),
        ("foo, , bar", 5, .missingPackageName),
        (", foo", 0, .missingPackageName),
        ("foo |", 5, .missingPackageName),
        ("| foo", 0, .missingPackageName),
        ("Foo", 0, .invalidPackageName("Foo")),
        ("-foo", 0, .invalidPackageName("-foo")),
        ("foo_bar", 0, .invalidPackageName("foo_bar")),
        ("foo:", 4, .emptyArchitectureQualifier),
        ("foo:AMD64", 4, .invalidArchitecture("AMD64")),
        ("foo (1.0)", 5, .missingOperator),
        ("foo (>= )", 8, .missingVersion),
        ("foo (>=", 7, .missingVersion),
        ("foo (>= 1.0", 11, .unterminatedVersion),
        ("foo (>= 1.0 2.0)", 12, .unterminatedVersion),
        ("foo (>= 1.0, bar", 11, .unterminatedVersion),
        ("foo (<> 1.0)", 5, .invalidOperator("<>")),
        ("foo (>< 1.0)", 5, .invalidOperator("><")),
        ("foo (== 1.0)", 5, .invalidOperator("==")),
        ("foo (>= 1.0-)", 8,
         .invalidVersion(DebianVersionError(text: "1.0-", problem: .emptyRevision))),
        ("foo (>= a1)", 8,
         .invalidVersion(DebianVersionError(text: "a1", problem: .upstreamVersionDoesNotStartWithDigit))),
        ("foo []", 4, .emptyArchitectureList),
        ("foo [amd64", 4, .unterminatedArchitectureList),
        ("foo [amd64 !i386]", 11, .mixedArchitectureNegation),
        ("foo [!amd64 i386]", 12, .mixedArchitectureNegation),
        ("foo [AMD64]", 5, .invalidArchitecture("AMD64")),
        ("foo <!nocheck", 4, .unterminatedProfileList),
        ("foo <>", 4, .emptyProfileList),
        ("foo bar", 4, .unexpectedCharacter("b")),
        ("foo (>= 1.0) (<< 2.0)", 13, .unexpectedCharacter("(")),
        ("foo; bar", 0, .invalidPackageName("foo;")),
        ("foo (>= 1.0);", 12, .unexpectedCharacter(";")),
        ("foo )", 4, .unexpectedCharacter(")")),
    ])
    func refusesBadFields(_ text: String, _ offset: Int, _ problem: RelationError.Problem) {
        #expect(throws: RelationError(text: text, offset: offset, problem: problem)) {
            try RelationList(parsing: text)
        }
    }

    @Test func errorsNameTheFieldText() {
        do {
            _ = try RelationList(parsing: "libc6 (>= 2.34), libfoo (>= 1.0-)")
            Issue.record("accepted a bad version")
        } catch {
            #expect(error.text == "libc6 (>= 2.34), libfoo (>= 1.0-)")
            #expect(error.description.contains("\"libc6 (>= 2.34), libfoo (>= 1.0-)\""))
            #expect(error.description.contains("1.0-"))
        }
    }

    /// Real fields from bookworm's Packages index parse, and print back in canonical form.
    @Test func parsesRealBookwormFields() throws {
        let fields = [
            "libc6 (>= 2.36), libcrypt1 (>= 1:4.4.10-10~), libgdbm-compat4 (>= 1.18-3), libgdbm6 (>= 1.21), zlib1g (>= 1:1.2.0), perl-base (= 5.36.0-7+deb12u1), perl-modules-5.36 (>= 5.36.0-7+deb12u1)",
            "python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)",
            "debconf (>= 0.5) | debconf-2.0, adduser, lsb-base (>= 3.0-6), libc6 (>= 2.34)",
            "awk, libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 11), python3:any",
            "perl:any, libdpkg-perl (>= 1.18.11)",
            "gcc-12-base (= 12.2.0-14), libc6 (>= 2.35), libgcc-s1 (>= 3.3.1), libstdc++6 (>= 12)",
        ]
        for field in fields {
            let list = try parse(field)
            #expect(list.description == field)
            #expect(try parse(list.description) == list)
        }
    }

    @Test func parsesSyntheticIndexQuickly() throws {
        // 63,000 Depends fields like bookworm's (about five clauses each). A debug build is ~20×
        // slower than release; this guards correctness at scale, not the release figure.
        let field = "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), debconf (>= 0.5) | debconf-2.0, python3:any (>= 3.11~)"
        var clauses = 0
        for i in 0..<63_000 {
            clauses += try RelationList(parsing: i % 2 == 0 ? field : "libfoo\(i) (= 1.\(i)-1)").clauses.count
        }
        #expect(clauses == 31_500 * 5 + 31_500)
    }

    /// The host's own apt list of bookworm main amd64, whatever mirror it came from.
    static let hostIndex: String = {
        let lists = "/var/lib/apt/lists"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: lists)) ?? []
        let match = names.sorted().first { $0.hasSuffix("_dists_bookworm_main_binary-amd64_Packages.lz4") }
        return match.map { lists + "/" + $0 } ?? "/nonexistent"
    }()

    /// Every relationship field and version of the host's bookworm index (when the host has one
    /// and lz4 to read it) parses; a sample prints back to text that parses to the same value.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: hostIndex)
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/lz4")))
    func parsesEveryFieldOfTheHostsBookwormIndex() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/lz4")
        process.arguments = ["-dc", Self.hostIndex]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let relationFields: Set<Substring> = ["Depends", "Pre-Depends", "Recommends", "Suggests", "Enhances", "Conflicts", "Breaks", "Provides", "Replaces"]
        var fields: [(name: Substring, value: String)] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.first == " ", !fields.isEmpty {
                fields[fields.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((line[..<colon], String(line[line.index(after: colon)...])))
            }
        }
        var relations = 0
        var versions = 0
        for (name, value) in fields {
            if relationFields.contains(name) {
                let list = try RelationList(parsing: value)
                // The round trip on a sample: every field of it would double a debug run.
                if relations % 16 == 0 { #expect(try RelationList(parsing: list.description) == list) }
                relations += 1
            } else if name == "Version" {
                _ = try DebianVersion(value)
                versions += 1
            }
        }
        #expect(relations > 50_000)
        #expect(versions > 50_000)
    }
}

import Foundation
import Testing

@testable import StrataDebian

@Suite struct DebianVersionTests {
    /// (a, b, sign of dpkg's comparison of a with b). Every expectation was checked with
    /// `dpkg --compare-versions` (dpkg 1.21/1.22); the first rows are dpkg's own t-version.c cases.
    static let comparisons: [(String, String, Int)] = [
        // dpkg t-version.c: equality, epochs, upstream and revision differences.
        ("0:0-0", "0:0-0", 0),
        ("0:0-00", "0:00-0", 0),
        ("1:2-3", "1:2-3", 0),
        ("0:0-0", "1:0-0", -1),
        ("1:0-0", "0:0-0", 1),
        ("0:1-1", "0:2-1", -1),
        ("0:1-1", "0:1-2", -1),
        ("0:1a0-0", "0:1b0-0", -1),
        ("0:0-a", "0:0-b", -1),
        ("0", "0", 0),
        ("0", "00", 0),
        ("00", "0", 0),
        ("1:2-3", "1:2-3", 0),
        ("0:0-0", "0:0-00", 0),
        ("0:00-0", "0:0-0", 0),
        ("0", "1:0", -1),
        ("1:0", "0", 1),
        ("0:0", "0:1", -1),
        ("1.0", "1.00", 0),
        ("1.0", "0:1.0", 0),
        ("1.0", "1.0-0", 0),
        ("1.0-0", "1.0-00", 0),
        ("1.0", "1.0.0", -1),
        ("1.0~rc1", "1.0", -1),
        ("1.0~~", "1.0~", -1),
        ("1.0~~a", "1.0~~", 1),
        ("1.0~", "1.0", -1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc1-1", "1.0-1", -1),
        ("1.0~beta1", "1.0~rc1", -1),
        ("1.0a", "1.0+", -1),
        ("1.0a", "1.0", 1),
        ("1.0+", "1.0", 1),
        ("1.0.", "1.0+", 1),
        ("1.0a", "1.0A", 1),
        ("1.0Z", "1.0a", -1),
        ("1.0-1", "1.0-2", -1),
        ("1.0-1", "1.0-1.1", -1),
        ("1.0-1.1", "1.0-1+b1", 1),
        ("1.0-1+b1", "1.0-1.0", -1),
        ("1.0-1", "1.0-1~bpo1", 1),
        ("1.0-1~bpo12+1", "1.0-1", -1),
        ("1.0-1+deb12u1", "1.0-1", 1),
        ("1.0-1+deb12u1", "1.0-2", -1),
        ("1.0-10", "1.0-9", 1),
        ("1.2", "1.10", -1),
        ("1.002", "1.2", 0),
        ("1.01", "1.1", 0),
        ("10", "9", 1),
        ("007", "7", 0),
        ("1.0", "1.0a", -1),
        ("1.0", "1", 1),
        ("1", "1.0", -1),
        ("1:1.0", "2.0", 1),
        ("2:0.1", "1:99", 1),
        ("1.0-1", "1.0.1", -1),
        ("7.6p2-4", "7.6-0", 1),
        ("1.0.3-3", "1.0-1", 1),
        ("1.3", "1.2.2-2", 1),
        ("1.3", "1.2.2", 1),
        ("0-pre", "0-pre", 0),
        ("0-pre", "0-pree", -1),
        ("1.1.6r2-2", "1.1.6r-1", 1),
        ("2.6b2-1", "2.6b-2", 1),
        ("98.1p5-1", "98.1-pre2-b6-2", -1),
        ("0.4a6-2", "0.4-1", 1),
        ("1:3.0.5-2", "1:3.0.5.1", -1),
        ("10.11.1-3", "10-11-1-3", 1),
        ("0.4.23debian1", "0.4.23-1", 1),
        ("1.2.4-1", "1.2.4debian1", -1),
        ("0.2.1", "0.2", 1),
        ("1.0-b1", "1.0-b", 1),
        ("2.30.2-0ubuntu1", "2.30.2", 1),
        ("1:2.39.5-0+deb12u2", "1:2.39.5-0+deb12u1", 1),
        ("1:2.39.5-0+deb12u2", "2.40", 1),
        ("3.11.2-1+b1", "3.11.2-1", 1),
        ("3.11.2-1", "3.11.2-1+b1", -1),
        ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
        ("5.2.15-2+b7", "5.2.15-2+b10", -1),
        ("1.0~", "1.0~a", -1),
        ("1.0~a", "1.0~b", -1),
        ("1-~", "1-~~", 1),
        ("1-~~", "1-~~a", -1),
        ("1-a~", "1-a", -1),
        ("0.0~git20230101", "0.0", -1),
        ("0.0~git20230101", "0.0~git20221231", 1),
        ("12345678901234567890123456789", "12345678901234567890123456788", 1),
        ("12345678901234567890123456789", "1234567890123456789012345678", 1),
        ("00000000000000000000000000001", "1", 0),
        ("1.99999999999999999999999999", "1.100000000000000000000000000", -1),
        ("1.0.", "1.0.0", 0),
        ("1:1.0:1-1", "1:1.0.1-1", 1),
        ("1.0-a-1", "1.0-a-2", -1),
        ("1.0-1-1", "1.0-1.1-1", -1),
        ("1.0+dfsg", "1.0", 1),
        ("1.0+dfsg-1", "1.0-1", 1),
        ("2.0.0~beta3+dfsg-1", "2.0.0~beta3-1", 1),
        ("4.19.0-21", "4.19.0-21", 0),
        ("4.19.0-21", "04.19.0-021", 0),
        ("1.0-1a", "1.0-1", 1),
        ("1.0-1a", "1.0-1.", -1),
        ("1.0-0.1", "1.0", 1),
        ("1a", "1A", 1),
        ("1.a", "1.", 1),
    ]

    @Test(arguments: comparisons)
    func comparesLikeDpkg(_ a: String, _ b: String, _ expected: Int) throws {
        let va = try DebianVersion(a)
        let vb = try DebianVersion(b)
        #expect(DebianVersion.compare(va, vb) == expected, "\(a) vs \(b)")
        #expect(DebianVersion.compare(vb, va) == -expected, "\(b) vs \(a)")
        #expect((va < vb) == (expected < 0))
        #expect((va == vb) == (expected == 0))
        if expected == 0 {
            #expect(va.hashValue == vb.hashValue, "equal versions \(a) and \(b) must hash alike")
        }
    }

    @Test func equalVersionsAreOneSetElement() throws {
        let set: Set<DebianVersion> = try ["1.0", "1.00", "0:1.0", "1.0-0", "01.0-00"].map { try DebianVersion($0) }.reduce(into: []) { $0.insert($1) }
        #expect(set.count == 1)
        let distinct: Set<DebianVersion> = try ["1.0", "1.0.0", "1.0-1", "1:1.0", "1.0~", "1.0a", "1-2.3", "1.2-3"].map { try DebianVersion($0) }.reduce(into: []) { $0.insert($1) }
        #expect(distinct.count == 8)
    }

    @Test func sortsAChainInOrder() throws {
        // Each is strictly before the next.
        let chain = [
            "1.0~~", "1.0~~a", "1.0~", "1.0~beta1", "1.0~rc1", "1.0~rc1-1", "1.0", "1.0-0.1", "1.0-1~bpo12+1", "1.0-1",
            "1.0-1+b1", "1.0-1+deb12u1", "1.0-1.1", "1.0-2", "1.0a", "1.0+", "1.0.0", "1.1", "1.10", "2",
            "1:0.1", "1:0.1-1", "2:0",
        ]
        let versions = try chain.map { try DebianVersion($0) }
        for (a, b) in zip(versions, versions.dropFirst()) {
            #expect(a < b, "\(a) < \(b)")
        }
        #expect(versions.shuffled().sorted() == versions)
    }

    @Test func splitsEpochUpstreamAndRevisionLikeDpkg() throws {
        // dpkg t-version.c parse cases: the revision follows the LAST hyphen, the epoch the FIRST colon.
        let cases: [(String, Int, String, String?)] = [
            ("0", 0, "0", nil),
            ("0:0", 0, "0", nil),
            ("0:0-0", 0, "0", "0"),
            ("0:0.0-0.0", 0, "0.0", "0.0"),
            ("1:0", 1, "0", nil),
            ("5:1", 5, "1", nil),
            ("0:0-0-0", 0, "0-0", "0"),
            ("0:0-0-0-0", 0, "0-0-0", "0"),
            ("0:0:0-0", 0, "0:0", "0"),
            ("0:0:0:0-0", 0, "0:0:0", "0"),
            ("0:0:0-0-0", 0, "0:0-0", "0"),
            ("0:0-0:0-0", 0, "0-0:0", "0"),
            ("0:09azAZ.-+~:-0", 0, "09azAZ.-+~:", "0"),
            ("0:0-azAZ09.+~", 0, "0", "azAZ09.+~"),
            ("  0:0-1", 0, "0", "1"),
            ("0:0-1\t ", 0, "0", "1"),
            ("2147483647:1", 2_147_483_647, "1", nil),
            ("1:2.39.5-0+deb12u2", 1, "2.39.5", "0+deb12u2"),
        ]
        for (text, epoch, upstream, revision) in cases {
            let v = try DebianVersion(text)
            #expect(v.epoch == epoch, "\(text)")
            #expect(v.upstreamVersion == upstream, "\(text)")
            #expect(v.revision == revision, "\(text)")
            #expect(v.description == text.trimmingCharacters(in: .whitespaces))
        }
    }

    @Test func keepsTheTextAsWritten() throws {
        #expect(try DebianVersion("0:1.00-0").description == "0:1.00-0")
        #expect(try DebianVersion(" 1.0 ").description == "1.0")
        #expect(try DebianVersion("1.0"[...]).description == "1.0")
    }

    @Test(arguments: [
        ("", DebianVersionError.Problem.empty),
        ("   ", .empty),
        ("0:", .nothingAfterColon),
        (":1.0", .emptyEpoch),
        ("1.0-", .emptyRevision),
        ("0:0 0-1", .embeddedBlank),
        ("1.0\t1", .embeddedBlank),
        ("-1:0-1", .epochNotANumber),
        ("+1:0", .epochNotANumber),
        (" 1:0", nil),
        ("a:0-0", .epochNotANumber),
        ("A:0-0", .epochNotANumber),
        ("1.0-1:1", .epochNotANumber),
        ("2147483648:0", .epochTooLarge),
        ("999999999999999999999999:0-1", .epochTooLarge),
        ("99999999999999999999999999999999999999999999:0", .epochTooLarge),
        ("-1", .emptyUpstreamVersion),
        ("1:-1", .emptyUpstreamVersion),
        ("0:abc3-0", .upstreamVersionDoesNotStartWithDigit),
        ("~1", .upstreamVersionDoesNotStartWithDigit),
        ("1.0é", .invalidCharacterInUpstreamVersion("é")),
        ("1.0-1é", .invalidCharacterInRevision("é")),
    ] as [(String, DebianVersionError.Problem?)])
    func refusesInvalidVersions(_ text: String, _ problem: DebianVersionError.Problem?) {
        do {
            _ = try DebianVersion(text)
            #expect(problem == nil, "\(text) was accepted")
        } catch {
            #expect(error.problem == problem)
            #expect(error.text == text)
            #expect(error.description.contains("\"\(text)\""))
        }
    }

    @Test func refusesEveryCharacterDpkgRefuses() {
        // dpkg t-version.c: invalid characters in the upstream version and in the revision.
        for c in "!#@$%&/|\\<>()[]{};,_=*^'" {
            #expect(throws: DebianVersionError(text: "0:0\(c)-0", problem: .invalidCharacterInUpstreamVersion(c))) {
                try DebianVersion("0:0\(c)-0")
            }
        }
        for c in "!#@$%&/|\\<>()[]{}:;,_=*^'" {
            #expect(throws: DebianVersionError(text: "0:0-\(c)", problem: .invalidCharacterInRevision(c))) {
                try DebianVersion("0:0-\(c)")
            }
        }
    }

    @Test func longDigitRunsDoNotOverflow() throws {
        let long = String(repeating: "9", count: 500)
        let a = try DebianVersion("1." + long)
        let b = try DebianVersion("1.1" + long)
        #expect(a < b)
        #expect(try DebianVersion("1." + String(repeating: "0", count: 300) + long) == a)
    }

    /// Over many random versions from an alphabet rich in zeros and separators: the order is a
    /// total order (antisymmetric, transitive through sorting) and equal versions hash alike.
    @Test func orderIsTotalAndHashingConsistent() throws {
        var rng = SystemRandomNumberGenerator()
        let upstreamChars = Array("000.1~a+-:")
        var versions: [DebianVersion] = []
        while versions.count < 600 {
            var text = ["", "0:", "1:"].randomElement(using: &rng)! + ["0", "1", "00"].randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 0...5, using: &rng) { text.append(upstreamChars.randomElement(using: &rng)!) }
            if let v = try? DebianVersion(text) { versions.append(v) }
        }
        var equalPairs = 0
        for a in versions {
            for b in versions {
                let ab = DebianVersion.compare(a, b)
                #expect(ab == -DebianVersion.compare(b, a))
                if ab == 0 {
                    equalPairs += 1
                    #expect(a.hashValue == b.hashValue, "\(a) == \(b)")
                }
            }
        }
        #expect(equalPairs > versions.count)  // some distinct texts were equal versions
        let sorted = versions.sorted()
        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a <= b) }
        for i in stride(from: 0, to: sorted.count, by: 7) {
            for j in stride(from: i, to: sorted.count, by: 11) { #expect(sorted[i] <= sorted[j]) }
        }
    }

    /// Random versions from a small alphabet, compared by dpkg itself, when dpkg is installed.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg")))
    func agreesWithDpkgOnRandomVersions() throws {
        var rng = SystemRandomNumberGenerator()
        func part(_ alphabet: [Character], _ n: Int) -> String {
            String((0..<Int.random(in: 0...n, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        }
        let upstreamChars = Array("0019a.~+Z-")
        let revisionChars = Array("01a~+.")
        for _ in 0..<150 {
            var pair: [String] = []
            for _ in 0..<2 {
                var v = ["", "1:", "0:"].randomElement(using: &rng)! + String(Int.random(in: 0...2, using: &rng))
                    + part(upstreamChars, 4)
                if Bool.random(using: &rng) { v += "-" + "1" + part(revisionChars, 3) }
                pair.append(v)
            }
            guard let a = try? DebianVersion(pair[0]), let b = try? DebianVersion(pair[1]) else { continue }
            let mine = DebianVersion.compare(a, b)
            #expect(try Self.dpkg(pair[0], "lt", pair[1]) == (mine < 0), "\(pair[0]) < \(pair[1])")
            #expect(try Self.dpkg(pair[0], "eq", pair[1]) == (mine == 0), "\(pair[0]) = \(pair[1])")
        }
    }

    static func dpkg(_ a: String, _ op: String, _ b: String) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dpkg")
        process.arguments = ["--compare-versions", a, op, b]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

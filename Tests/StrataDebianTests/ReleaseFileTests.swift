import Testing
import StrataModel
@testable import StrataDebian

@Suite struct ReleaseFileTests {
    static let inRelease = """
        -----BEGIN PGP SIGNED MESSAGE-----
        Hash: SHA256

        Origin: Debian
        Label: Debian
        Suite: oldstable
        Version: 12.15
        Codename: bookworm
        Date: Sat, 11 Jul 2026 10:16:37 UTC
        Valid-Until: Sat, 18 Jul 2026 10:16:37 +0200
        Acquire-By-Hash: yes
        Architectures: all amd64 arm64
        Components: main contrib non-free-firmware non-free
        Description: Debian 12.15 Released 11 July 2026
        MD5Sum:
         0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
        SHA256:
         9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5  8790396 main/binary-amd64/Packages.xz
         3f1b6b7b5d3b1c2e0f9b0e2b0c6d1a2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c 50060337 main/binary-amd64/Packages
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-all/Packages
        -----BEGIN PGP SIGNATURE-----

        iQIzBAEBCAAdFiEEpyNohvPMyq0Uiif4DphATThvodkFAmiR5pAACgkQDphATThv
        odmSaxAAqU3tQ1GK2qUiRTdEuLcGcr+fBZxgE9mBtJHMOlAuOj0tW0gqPRo0B8Fs
        =q2Ui
        -----END PGP SIGNATURE-----
        """

    @Test func parsesARealLookingInRelease() throws {
        let release = try ReleaseFile(parsingInRelease: Array(Self.inRelease.utf8))
        #expect(release.origin == "Debian")
        #expect(release.label == "Debian")
        #expect(release.suite == "oldstable")
        #expect(release.version == "12.15")
        #expect(release.codename == "bookworm")
        #expect(release.date == "Sat, 11 Jul 2026 10:16:37 UTC")
        #expect(release.dateSeconds == 1_783_764_997)
        #expect(release.validUntil == "Sat, 18 Jul 2026 10:16:37 +0200")
        // A week later, written in +0200: two hours earlier in UTC.
        let weekLater: Int64 = 1_783_764_997 + 7 * 86_400 - 7_200
        #expect(release.validUntilSeconds == weekLater)
        #expect(release.architectures == ["all", "amd64", "arm64"])
        #expect(release.components == ["main", "contrib", "non-free-firmware", "non-free"])
        #expect(release.acquireByHash)
        #expect(release.sha256.count == 3)
        let xz = try #require(release.entry(for: "main/binary-amd64/Packages.xz"))
        #expect(xz.size == 8_790_396)
        #expect(xz.sha256 == (try Digest(hex: "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5")))
        #expect(release.entry(for: "main/binary-all/Packages")?.size == 0)
        #expect(release.entry(for: "main/binary-i386/Packages") == nil)
        #expect(!release.isExpired(at: 1_783_764_997))
        #expect(release.isExpired(at: release.validUntilSeconds! + 1))
    }

    @Test func signedTextIsWhatIsBetweenTheArmor() throws {
        let text = String(decoding: try ReleaseFile.signedText(ofInRelease: Array(Self.inRelease.utf8)), as: UTF8.self)
        #expect(text.hasPrefix("Origin: Debian\n"))
        #expect(text.hasSuffix("main/binary-all/Packages\n"))
        #expect(!text.contains("PGP"))
        // CRLF armor gives the same text.
        let crlf = Self.inRelease.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        #expect(try ReleaseFile.signedText(ofInRelease: Array(crlf.utf8)) == Array(text.utf8))
    }

    @Test func dashEscapingIsUndone() throws {
        let message = "\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nA: b\n- -- escaped\n- Not: escaped\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n\n"
        let text = try ReleaseFile.signedText(ofInRelease: Array(message.utf8))
        #expect(String(decoding: text, as: UTF8.self) == "A: b\n-- escaped\nNot: escaped\n")
    }

    @Test func refusesWhatIsNotClearSigned() {
        let plain = "Suite: stable\nCodename: bookworm\n"
        #expect(throws: ControlFileError.notClearSigned) { try ReleaseFile(parsingInRelease: Array(plain.utf8)) }
        #expect(throws: ControlFileError.notClearSigned) {
            try ReleaseFile(parsingInRelease: Array(("Origin: evil\n" + Self.inRelease).utf8))
        }
        #expect(throws: ControlFileError.self) {
            try ReleaseFile(parsingInRelease: Array((Self.inRelease + "\nSuite: injected\n").utf8))
        }
        let noSignature = Self.inRelease.components(before: "-----BEGIN PGP SIGNATURE-----")
        #expect(throws: ControlFileError.self) { try ReleaseFile(parsingInRelease: Array(noSignature.utf8)) }
        let unescaped = Self.inRelease.replacingFirst("Label: Debian", with: "-----BEGIN PGP SIGNED MESSAGE-----")
        #expect(throws: ControlFileError.self) { try ReleaseFile(parsingInRelease: Array(unescaped.utf8)) }
        let badHeader = Self.inRelease.replacingFirst("Hash: SHA256", with: "Comment: hi")
        #expect(throws: ControlFileError.self) { try ReleaseFile(parsingInRelease: Array(badHeader.utf8)) }
    }

    @Test func plainReleaseAndItsErrors() throws {
        let release = try ReleaseFile(parsing: Array("Codename: bookworm\nDate: Thu, 1 Jan 1970 00:00:00 GMT\n".utf8))
        #expect(release.codename == "bookworm")
        #expect(release.suite == nil)
        #expect(release.dateSeconds == 0)
        #expect(release.validUntilSeconds == nil)
        #expect(!release.acquireByHash)
        #expect(release.sha256.isEmpty)
        #expect(!release.isExpired(at: .max))

        #expect(throws: ControlFileError.invalidValue(field: "Date", value: "yesterday", package: nil, line: 2)) {
            try ReleaseFile(parsing: Array("Suite: stable\nDate: yesterday\n".utf8))
        }
        #expect(throws: ControlFileError.invalidValue(field: "SHA256", value: "abc 12 main/Packages", package: nil, line: 3)) {
            try ReleaseFile(parsing: Array("Suite: stable\nSHA256:\n abc 12 main/Packages\n".utf8))
        }
        #expect(throws: ControlFileError.invalidValue(field: "SHA256", value: "abc 12 main/Packages", package: nil, line: 2)) {
            try ReleaseFile(parsing: Array("Suite: stable\nSHA256: abc 12 main/Packages\n".utf8))
        }
        let hex = String(repeating: "0", count: 64)
        #expect(throws: ControlFileError.self) {
            try ReleaseFile(parsing: Array("Suite: stable\nSHA256:\n \(hex) 12 ../../etc/passwd\n".utf8))
        }
        #expect(throws: ControlFileError.missingField("Suite", package: nil, line: 1)) {
            try ReleaseFile(parsing: Array("Origin: Debian\n".utf8))
        }
        #expect(throws: ControlFileError.unexpectedParagraph(line: 3)) {
            try ReleaseFile(parsing: Array("Suite: a\n\nSuite: b\n".utf8))
        }
    }

    @Test func rfc2822Dates() {
        #expect(RFC2822.seconds("Sat, 11 Jul 2026 10:16:37 UTC") == 1_783_764_997)
        #expect(RFC2822.seconds("11 Jul 2026 10:16:37 UTC") == 1_783_764_997)
        #expect(RFC2822.seconds("Sat, 11 Jul 2026 12:16:37 +0200") == 1_783_764_997)
        #expect(RFC2822.seconds("Sat, 11 Jul 2026 10:16 Z") == 1_783_764_960)
        #expect(RFC2822.seconds("Tue, 29 Feb 2000 00:00:00 UTC") == 951_782_400)
        #expect(RFC2822.seconds("Sun, 29 Feb 2026 00:00:00 UTC") == nil)
        #expect(RFC2822.seconds("Sat, 11 Juli 2026 10:16:37 UTC") == nil)
        #expect(RFC2822.seconds("Sat, 11 Jul 2026 10:16:37") == nil)
        #expect(RFC2822.seconds("Sat, 11 Jul 2026 25:16:37 UTC") == nil)
        #expect(RFC2822.seconds("") == nil)
    }
}

extension String {
    func components(before marker: String) -> String {
        guard let range = range(of: marker) else { return self }
        return String(self[..<range.lowerBound])
    }

    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

import Foundation
import StrataOS
import Testing
import StrataModel
@testable import StrataDebian

/// The archive scripts/debian-test-archive.py generates, made once per test process.
enum GeneratedDebianArchive {
    struct Failure: Error, Sendable, CustomStringConvertible { var description: String }

    /// The archive's directory, or why it could not be made.
    static let generated: Result<String, Failure> = {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/debian-test-archive.py").standardizedFileURL.path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-debian-archive-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, "--extras", "--by-hash", dir]
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { return .failure(Failure(description: "cannot run \(script): \(error)")) }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(Failure(description: "\(script) failed: \(String(decoding: message, as: UTF8.self))"))
        }
        // Removed when the test process exits; the name carries the pid, so parallel runs never share it.
        atexit { if case .success(let dir) = GeneratedDebianArchive.generated { try? FileManager.default.removeItem(atPath: dir) } }
        return .success(dir)
    }()

    static func path(_ relative: String) throws -> String { try generated.get() + "/" + relative }
}

@Suite struct ReleaseVerifierTests {
    static let date: Int64 = 1_767_225_600  // the script's default Date: 2026-01-01 00:00:00 UTC

    func verifier() throws -> ReleaseVerifier { ReleaseVerifier(keyrings: [try GeneratedDebianArchive.path("keyring.gpg")]) }

    @Test func acceptsTheGeneratedInRelease() throws {
        let path = try GeneratedDebianArchive.path("dists/testing/InRelease")
        let verified = try verifier().verify(inReleaseAt: path)
        let keyID = try String(contentsOfFile: GeneratedDebianArchive.path("key-id"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(verified.signers == [keyID])
        #expect(verified.path == path)
        #expect(verified.release.suite == "testing")
        #expect(verified.release.codename == "strata")
        #expect(verified.release.date == "Thu, 01 Jan 2026 00:00:00 UTC")
        #expect(verified.release.dateSeconds == Self.date)
        #expect(verified.release.validUntil == "Sat, 08 Dec 2125 00:00:00 UTC")  // Date + 36,500 days
        #expect(verified.release.acquireByHash)
        #expect(verified.release.architectures == ["amd64"])
        #expect(verified.inReleaseDigest == Digest.sha256(of: try HostFile.read(path)))

        // The signed list pins the index the archive serves.
        let packages = try HostFile.read(GeneratedDebianArchive.path("dists/testing/main/binary-amd64/Packages"))
        let entry = try #require(verified.release.entry(for: "main/binary-amd64/Packages"))
        #expect(entry.sha256 == Digest.sha256(of: packages))
        #expect(entry.size == packages.count)
    }

    @Test func refusesATamperedInRelease() throws {
        let path = try GeneratedDebianArchive.path("dists/testing/InRelease.tampered")
        let verifier = try verifier()
        do throws(ReleaseVerificationError) {
            _ = try verifier.verify(inReleaseAt: path)
            Issue.record("a tampered InRelease was accepted")
        } catch {
            guard case .badSignature(let p, _) = error else { Issue.record("expected badSignature, got \(error)"); return }
            #expect(p == path)
        }
    }

    @Test func refusesAnUnsignedRelease() throws {
        let path = try GeneratedDebianArchive.path("dists/testing/Release")
        #expect(throws: ReleaseVerificationError.unsigned(path: path)) { try verifier().verify(inReleaseAt: path) }
    }

    @Test func refusesAKeyOutsideTheKeyring() throws {
        let path = try GeneratedDebianArchive.path("dists/testing/InRelease")
        let other = ReleaseVerifier(keyrings: [try GeneratedDebianArchive.path("other-keyring.gpg")])
        let keyID = try String(contentsOfFile: GeneratedDebianArchive.path("key-id"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // gpgv names the key by its long id: the fingerprint's last 16 hex digits.
        #expect(throws: ReleaseVerificationError.unknownKey(path: path, keyID: String(keyID.suffix(16)))) {
            try other.verify(inReleaseAt: path)
        }
    }

    @Test func refusesAnExpiredRelease() throws {
        let path = try GeneratedDebianArchive.path("dists/expired/InRelease")
        let verifier = try verifier()
        do throws(ReleaseVerificationError) {
            _ = try verifier.verify(inReleaseAt: path)
            Issue.record("an expired release was accepted")
        } catch {
            guard case .expiredRelease(let p, let until) = error else { Issue.record("expected expiredRelease, got \(error)"); return }
            #expect(p == path)
            #expect(!until.isEmpty)
        }
    }

    @Test func refusesAReleaseDatedInTheFuture() throws {
        let path = try GeneratedDebianArchive.path("dists/testing/InRelease")
        #expect(throws: ReleaseVerificationError.dateInFuture(path: path, date: "Thu, 01 Jan 2026 00:00:00 UTC")) {
            try verifier().verify(inReleaseAt: path, now: Self.date - 86_400)
        }
        // Within the allowed clock skew it passes.
        _ = try verifier().verify(inReleaseAt: path, now: Self.date - 60)
    }

    @Test func namesAMissingGpgvKeyringOrFile() throws {
        let path = try GeneratedDebianArchive.path("dists/testing/InRelease")
        let noGPGV = ReleaseVerifier(keyrings: [try GeneratedDebianArchive.path("keyring.gpg")], gpgv: "/nonexistent/gpgv")
        #expect(throws: ReleaseVerificationError.gpgvMissing(path: path, gpgv: "/nonexistent/gpgv")) {
            try noGPGV.verify(inReleaseAt: path)
        }
        let noKeyring = ReleaseVerifier(keyrings: ["/nonexistent/keyring.gpg"])
        #expect(throws: ReleaseVerificationError.keyringUnreadable(path: path, keyring: "/nonexistent/keyring.gpg", errno: ENOENT)) {
            try noKeyring.verify(inReleaseAt: path)
        }
        let missing = try GeneratedDebianArchive.path("dists/none/InRelease")
        #expect(throws: ReleaseVerificationError.unreadable(path: missing, errno: ENOENT)) {
            try verifier().verify(inReleaseAt: missing)
        }
    }

    /// gpgv's verdicts that the generated archive cannot easily produce.
    @Test func judgesStatusLines() throws {
        let p = "InRelease"
        func judge(_ lines: [String]) throws(ReleaseVerificationError) -> [String] {
            try ReleaseVerifier.judge(statusLines: lines.map { "[GNUPG:] " + $0 }, path: p)
        }
        #expect(throws: ReleaseVerificationError.expiredKey(path: p, keyID: "AAAA")) {
            try judge(["NEWSIG", "EXPKEYSIG AAAA Old Key <old@example.invalid>"])
        }
        #expect(throws: ReleaseVerificationError.revokedKey(path: p, keyID: "BBBB")) {
            try judge(["NEWSIG", "REVKEYSIG BBBB Revoked <r@example.invalid>"])
        }
        #expect(throws: ReleaseVerificationError.unverifiableSignature(path: p, keyID: "CCCC", rc: "4")) {
            try judge(["NEWSIG", "ERRSIG CCCC 99 8 01 1795947790 4 -"])
        }
        #expect(throws: ReleaseVerificationError.unsigned(path: p)) { try judge(["NODATA 1", "NODATA 2"]) }
        #expect(throws: ReleaseVerificationError.unsigned(path: p)) { try judge([]) }
        // GOODSIG without VALIDSIG is not enough.
        #expect(throws: ReleaseVerificationError.unsigned(path: p)) { try judge(["NEWSIG", "GOODSIG DDDD Key"]) }
        // One bad signature spoils good ones.
        #expect(throws: ReleaseVerificationError.badSignature(path: p, keyID: "FFFF")) {
            try judge(["NEWSIG", "GOODSIG EEEE K", "VALIDSIG 11EEEE 2026-01-01 1 0 4 0 22 8 01 11EEEE", "NEWSIG", "BADSIG FFFF K"])
        }
        // A good signature plus one by a key outside the keyring: accepted, as apt does.
        #expect(try judge(["NEWSIG", "ERRSIG 9999 1 8 01 1 9 -", "NO_PUBKEY 9999",
                           "NEWSIG", "GOODSIG EEEE K", "VALIDSIG 22EEEE 2026-01-01 1 0 4 0 22 8 01 11EEEE"]) == ["11EEEE"])
    }

    /// The host's bookworm InRelease as apt fetched it (from whatever mirror), if it has one.
    static let hostInRelease: String? = {
        let lists = "/var/lib/apt/lists"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: lists)) ?? []
        return names.sorted().first(where: { $0.hasSuffix("_dists_bookworm_InRelease") }).map { lists + "/" + $0 }
    }()

    /// The host's own bookworm InRelease (whatever mirror apt fetched it from), against
    /// debian-archive-keyring, when the host has both.
    @Test(.enabled(if: hostInRelease != nil, "no bookworm InRelease in /var/lib/apt/lists"),
          .enabled(if: FileManager.default.fileExists(atPath: ReleaseVerifier.debianArchiveKeyring),
                   "debian-archive-keyring is not installed"))
    func acceptsTheHostsBookwormInRelease() throws {
        let path = try #require(Self.hostInRelease)
        let verified = try ReleaseVerifier().verify(inReleaseAt: path)
        #expect(verified.release.codename == "bookworm")
        #expect(!verified.signers.isEmpty)
        #expect(verified.release.entry(for: "main/binary-amd64/Packages.xz") != nil)
    }
}

import CLinux
import Glibc
import StrataOS
import StrataModel

/// An `InRelease` file whose clear signature `gpgv` accepted against a trusted keyring,
/// whose dates were acceptable, and whose signed text parsed.
///
/// Guarantees: immutable; `release` was parsed from exactly the bytes whose sha256 is
/// `inReleaseDigest` and which gpgv verified (the file is read before and after gpgv runs
/// and must not change in between); `signers` holds at least one fingerprint.
public struct VerifiedRelease: Sendable, Hashable {
    /// The file that was verified, as the caller named it.
    public let path: String
    /// The parsed signed text.
    public let release: ReleaseFile
    /// The sha256 of the whole `InRelease` file (armor and signatures included): what a
    /// lockfile pins as the source's identity.
    public let inReleaseDigest: Digest
    /// The fingerprints of the keys whose good, valid signatures were accepted (gpgv's
    /// `VALIDSIG`), in gpgv's order.
    public let signers: [String]
}

/// Why an `InRelease` file was refused. Every case names the file.
public enum ReleaseVerificationError: Error, Equatable, Sendable {
    /// The file could not be read (`errno`).
    case unreadable(path: String, errno: Int32)
    /// The keyring file does not exist or cannot be read.
    case keyringUnreadable(path: String, keyring: String, errno: Int32)
    /// No gpgv executable at `gpgv` (apt and strata need the `gpgv` package).
    case gpgvMissing(path: String, gpgv: String)
    /// gpgv could not be started or ended in an unexpected way (`detail` says how).
    case gpgvFailed(path: String, detail: String)
    /// The file carries no OpenPGP signature gpgv could find (`NODATA`, or nothing said).
    case unsigned(path: String)
    /// A signature does not match the signed text (`BADSIG`): tampered or corrupt.
    case badSignature(path: String, keyID: String)
    /// Signed by a key that is not in the keyring (`NO_PUBKEY`).
    case unknownKey(path: String, keyID: String)
    /// Signed by a key that has expired (`EXPKEYSIG`).
    case expiredKey(path: String, keyID: String)
    /// Signed by a key that has been revoked (`REVKEYSIG`).
    case revokedKey(path: String, keyID: String)
    /// gpgv could not check a signature for another reason (`ERRSIG`, e.g. an unsupported
    /// algorithm); `rc` is gpgv's reason code.
    case unverifiableSignature(path: String, keyID: String, rc: String)
    /// The file changed while gpgv was reading it: what was verified is not what was read.
    case changedDuringVerification(path: String)
    /// The signed text is not a valid Release file.
    case malformed(path: String, ControlFileError)
    /// `Valid-Until` is in the past.
    case expiredRelease(path: String, validUntil: String)
    /// `Date` is further in the future than the allowed clock skew.
    case dateInFuture(path: String, date: String)
}

/// Verifies `InRelease` files the way apt does: `gpgv` checks the OpenPGP clear signature
/// against a keyring file, and only then is the signed text parsed and its dates checked.
///
/// Thread-safe (a value; each call starts its own gpgv). Accepts a file when gpgv reports
/// at least one signature that is both `GOODSIG` and `VALIDSIG` and none that is `BADSIG`;
/// other signatures by keys outside the keyring are ignored, as apt does for Debian's
/// several signing keys.
public struct ReleaseVerifier: Sendable {
    /// Debian's archive keys, from the `debian-archive-keyring` package.
    public static let debianArchiveKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    public static let defaultGPGV = "/usr/bin/gpgv"

    /// Keyring files (binary or armored OpenPGP public keys) whose keys are trusted.
    public var keyrings: [String]
    public var gpgv: String
    /// How far `Date` may lie in the future (clock skew between mirror and host), in seconds.
    public var maximumFutureSkew: Int64

    public init(keyrings: [String] = [ReleaseVerifier.debianArchiveKeyring], gpgv: String = ReleaseVerifier.defaultGPGV,
                maximumFutureSkew: Int64 = 3600) {
        self.keyrings = keyrings
        self.gpgv = gpgv
        self.maximumFutureSkew = maximumFutureSkew
    }

    /// Verifies the `InRelease` file at `path`. `now` (seconds since the epoch) defaults to
    /// the current time; tests pass their own.
    public func verify(inReleaseAt path: String, now: Int64? = nil) throws(ReleaseVerificationError) -> VerifiedRelease {
        let before = try Self.read(path)
        for keyring in keyrings where access(keyring, R_OK) != 0 {
            throw .keyringUnreadable(path: path, keyring: keyring, errno: errno)
        }
        guard access(gpgv, X_OK) == 0 else { throw .gpgvMissing(path: path, gpgv: gpgv) }
        var args = [gpgv, "--quiet", "--status-fd", "3"]
        for keyring in keyrings { args += ["--keyring", keyring] }
        args += ["--", path]
        let result = try GPGVProcess.run(args, path: path)
        // gpgv said nothing about any signature and failed: a broken keyring or an option it
        // refused. Report its own words rather than guess "unsigned".
        let verdicts: Set<Substring> = ["NEWSIG", "GOODSIG", "BADSIG", "ERRSIG", "NODATA", "VALIDSIG"]
        if result.exitStatus != 0,
           !result.status.contains(where: { line in line.split(separator: " ").dropFirst().first.map(verdicts.contains) ?? false }) {
            throw .gpgvFailed(path: path, detail: "gpgv exited with status \(result.exitStatus): \(result.stderr)")
        }
        let signers = try Self.judge(statusLines: result.status, path: path)

        // gpgv opened the file by name; make sure the bytes parsed below are the ones it saw.
        let after = try Self.read(path)
        guard before == after else { throw .changedDuringVerification(path: path) }

        let release: ReleaseFile
        do { release = try ReleaseFile(parsingInRelease: after) } catch { throw .malformed(path: path, error) }
        let now = now ?? Int64(time(nil))
        if release.isExpired(at: now), let until = release.validUntil {
            throw .expiredRelease(path: path, validUntil: until)
        }
        if let date = release.dateSeconds, date > now + maximumFutureSkew {
            throw .dateInFuture(path: path, date: release.date ?? "")
        }
        return VerifiedRelease(path: path, release: release, inReleaseDigest: Digest.sha256(of: after), signers: signers)
    }

    private static func read(_ path: String) throws(ReleaseVerificationError) -> [UInt8] {
        do { return try HostFile.read(path, limit: 64 << 20) } catch { throw .unreadable(path: path, errno: error.errno) }
    }

    /// Decides from gpgv's status lines (`[GNUPG:] KEYWORD args…`, see GnuPG's doc/DETAILS).
    /// Returns the fingerprints of the accepted signers.
    static func judge(statusLines: [String], path: String) throws(ReleaseVerificationError) -> [String] {
        var good: [String] = []      // key ids with GOODSIG
        var valid: [String] = []     // VALIDSIG: fingerprint of the signing (sub)key, last field the primary key
        var bad: String?
        var noPubKey: String?
        var expiredKey: String?
        var revokedKey: String?
        var errSig: (String, String)?
        for line in statusLines {
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 2, words[0] == "[GNUPG:]" else { continue }
            let arg = words.count > 2 ? words[2] : ""
            switch words[1] {
            case "GOODSIG": good.append(arg)
            case "VALIDSIG": valid.append(words.count >= 12 ? words[11] : arg)
            case "BADSIG": bad = bad ?? arg
            case "NO_PUBKEY": noPubKey = noPubKey ?? arg
            case "EXPKEYSIG": expiredKey = expiredKey ?? arg
            case "REVKEYSIG": revokedKey = revokedKey ?? arg
            case "ERRSIG": errSig = errSig ?? (arg, words.count > 7 ? words[7] : "")
            case "NODATA": break  // no signature found: ends as `.unsigned` below
            default: break
            }
        }
        // One bad signature spoils the file, whatever else is good: the text was altered
        // or the signatures were mixed.
        if let bad { throw .badSignature(path: path, keyID: bad) }
        // GOODSIG alone only says the math checks out; VALIDSIG comes with it when the key
        // is usable. Both are needed, as apt requires.
        if !good.isEmpty && !valid.isEmpty { return valid }
        if let revokedKey { throw .revokedKey(path: path, keyID: revokedKey) }
        if let expiredKey { throw .expiredKey(path: path, keyID: expiredKey) }
        if let noPubKey { throw .unknownKey(path: path, keyID: noPubKey) }
        if let (key, rc) = errSig { throw .unverifiableSignature(path: path, keyID: key, rc: rc) }
        // NODATA, or no signature gpgv could use at all.
        throw .unsigned(path: path)
    }
}

/// Runs gpgv (never through a shell) and collects its status fd (3) and stderr.
enum GPGVProcess {
    struct Output {
        var status: [String]
        var stderr: String
        var exitStatus: Int32
    }

    static func run(_ args: [String], path: String) throws(ReleaseVerificationError) -> Output {
        var gpgv = Subprocess(executable: args[0], arguments: Array(args.dropFirst()),
                              // A minimal environment: no user locale (status lines are not translated anyway,
                              // but stderr is kept for messages), no HOME, and a GNUPGHOME with nothing in
                              // it, so that only the keyrings named on the command line are consulted.
                              environment: ["LC_ALL=C", "PATH=/usr/bin:/bin", "GNUPGHOME=/nonexistent/strata-gpgv"])
        gpgv.standardOutput = .null
        gpgv.standardError = .capture
        gpgv.capturedDescriptors = [3]
        let outcome: Subprocess.Outcome
        do { outcome = try gpgv.run() } catch {
            if error.errno == ENOENT && error.operation == "run" { throw .gpgvMissing(path: path, gpgv: args[0]) }
            throw .gpgvFailed(path: path, detail: "cannot run \(args[0]): \(error.operation): \(error.reason)")
        }
        let stderrText = String(decoding: outcome.standardError, as: UTF8.self)
        // Killed by a signal: whatever it printed is not a verdict.
        if let signal = outcome.signal {
            throw .gpgvFailed(path: path, detail: "gpgv killed by signal \(signal): \(stderrText)")
        }
        let lines = String(decoding: outcome.captured[3] ?? [], as: UTF8.self).split(separator: "\n").map(String.init)
        return Output(status: lines, stderr: stderrText, exitStatus: outcome.exitCode ?? -1)
    }
}

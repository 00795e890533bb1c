import Glibc
import StrataOS
import StrataArchive
import StrataDebian
import StrataFetchClient
import StrataModel
import StrataOCI
import StrataSandbox
import StrataSeccomp
import StrataStore

/// Everything that can stop a strata command, each rendered as one sentence
/// that says what is wrong and what to do.
public enum StrataError: Error, CustomStringConvertible {
    case usage(String)
    case manifest(ManifestError)
    case lockfile(LockfileError)
    /// The lockfile is missing or does not match its inputs, and `--frozen` forbids re-locking.
    case staleLock(lockfile: String, reason: String)
    case input(path: String, reason: String)
    case image(OCIError)
    case archive(path: String, ArchiveError)
    case store(StoreError)
    case sandbox(SandboxError)
    /// A download failed on every mirror.
    case fetch(FetchFailure)
    /// The suite's `InRelease` was refused (unsigned, bad signature, expired…).
    case release(suite: String, ReleaseVerificationError)
    /// The packages cannot be resolved into a consistent set.
    case resolve(ResolverError)
    /// A Debian archive or package is not what it should be (`path` in the archive or store).
    case debianArchive(path: String, reason: String)
    /// A maintainer script or `dpkg --configure` failed while configuring the packages.
    case configure(reason: String, log: String)
    /// The seccomp profile `security.seccomp` names cannot be read as a profile or compiled.
    case seccomp(SeccompError)
    /// No image in the store has this tag or id.
    case imageNotFound(String)
    /// `strata exec` into a session that no process runs (Docker: exit 1, "is not running").
    case sessionNotRunning(String)

    /// 2 for usage and manifest errors (as the CLI convention says), 1 otherwise.
    public var exitCode: Int32 {
        switch self {
        case .usage, .manifest: return 2
        default: return 1
        }
    }

    public var description: String {
        switch self {
        case .usage(let text): return text
        case .manifest(let error): return error.description
        case .lockfile(let error): return "\(error); run `strata lock` to rewrite it"
        case .staleLock(let lockfile, let reason):
            return "\(lockfile) is out of date (\(reason)); run `strata lock` and commit the result, or drop --frozen"
        case .input(let path, let reason): return "\(path): \(reason)"
        case .image(let error): return error.description
        case .archive(let path, let error): return "\(path): " + Self.describe(error)
        case .store(let error): return Self.describe(error)
        case .sandbox(let error): return Self.describe(error)
        case .fetch(let error): return error.description
        case .seccomp(let error): return error.description
        case .sessionNotRunning(let name):
            return "session \"\(name)\" is not running; enter it again with `strata shell --session \(name)`"
        case .imageNotFound(let name):
            return "there is no image \(name) in the store; `strata images` lists them (commit a session or import an archive to add one)"
        case .release(let suite, let error): return Self.describe(error, suite: suite)
        case .resolve(let error): return error.description + "; change \"packages\" in the manifest"
        case .debianArchive(let path, let reason): return "\(path): \(reason)"
        case .configure(let reason, let log):
            let tail = log.split(separator: "\n").suffix(15).joined(separator: "\n")
            return "configuring the packages failed: \(reason)" + (tail.isEmpty ? "" : "; the end of its output:\n" + tail)
        }
    }

    static func describe(_ error: ReleaseVerificationError, suite: String) -> String {
        let what = "the InRelease file of \(suite)"
        let fix = "check the mirror, or the manifest's \"keyring\""
        switch error {
        case .unreadable(let path, let code): return "cannot read \(path): \(SystemError.text(code))"
        case .keyringUnreadable(_, let keyring, let code):
            return "cannot read the keyring \(keyring): \(SystemError.text(code)); install debian-archive-keyring or fix \"keyring\""
        case .gpgvMissing(_, let gpgv): return "\(gpgv) is missing; install the gpgv package to verify Debian archives"
        case .gpgvFailed(_, let detail): return "cannot verify \(what): gpgv \(detail)"
        case .unsigned: return "\(what) is not signed; refusing it (\(fix))"
        case .badSignature(_, let key): return "\(what) has a bad signature by key \(key): it was tampered with or damaged; refusing it (\(fix))"
        case .unknownKey(_, let key): return "\(what) is signed by key \(key), which is not in the trusted keyring; refusing it (\(fix))"
        case .expiredKey(_, let key): return "\(what) is signed by expired key \(key); refusing it (update debian-archive-keyring)"
        case .revokedKey(_, let key): return "\(what) is signed by revoked key \(key); refusing it"
        case .unverifiableSignature(_, let key, let rc): return "cannot check the signature of \(what) by key \(key) (gpgv reason \(rc)); refusing it"
        case .changedDuringVerification: return "\(what) changed while it was being verified; try again"
        case .malformed(_, let problem): return "\(what) is not a valid Release file: \(problem)"
        case .expiredRelease(_, let validUntil): return "\(what) expired on \(validUntil); the mirror is stale, use another one (--mirror)"
        case .dateInFuture(_, let date): return "\(what) is dated \(date), in the future; check this machine's clock"
        }
    }

    static func describe(_ error: ArchiveError) -> String {
        switch error {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .corrupt(let path, let reason): return "\(path) is not a valid tar archive: \(reason)"
        case .unsafeEntry(let entry, let reason): return "refused entry \"\(entry)\": \(reason)"
        case .limitExceeded(let entry, let limit): return "entry \"\(entry)\" exceeds the limit on \(limit)"
        case .io(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }

    static func describe(_ error: StoreError) -> String {
        switch error {
        case .io(let path, let reason): return "store: \(path): \(reason)"
        case .digestMismatch(let expected, let actual, let source):
            return "\(source) hashes to \(actual), but the lockfile pins \(expected); nothing was stored (run `strata lock` if the change is intended)"
        case .sizeMismatch(let digest, let expected, let actual, let source):
            return "\(source) is \(actual) bytes, but \(digest) is pinned at \(expected) bytes; nothing was stored"
        case .missingBlob(let digest): return "the store has no blob \(digest); run `strata build` again"
        case .unpack(let blob, let error): return "cannot unpack layer \(blob): " + describe(error)
        case .diffIDMismatch(let blob, let expected, let actual):
            return "layer \(blob) unpacks to \(actual), but its diff id is pinned as \(expected); nothing was stored"
        case .sessionExists(let name): return "a session named \"\(name)\" already exists; remove it first or pick another --name"
        case .noSuchSession(let name): return "no session named \"\(name)\"; `strata sessions` lists them"
        case .missingLayer(let diffID): return "the store has no layer \(diffID); run `strata build` again"
        case .missingSnapshot(let id): return "the store has no snapshot \(id); run `strata build` again"
        case .emptySnapshot: return "a snapshot needs at least one layer"
        case .corrupt(let path, let reason): return "the store is damaged at \(path): \(reason)"
        case .invalidName(let name, let reason): return "\"\(name)\" cannot be used: \(reason)"
        case .sessionInUse(let name): return "session \"\(name)\" is in use by a running process; stop what runs in it first"
        case .noSuchVolume(let name): return "no volume named \"\(name)\"; `strata volume ls` lists them"
        case .volumeInUse(let name, let sessions, let running):
            let users = sessions.map { "\"\($0)\"" }.joined(separator: ", ")
            let state = running ? "; stop the running one and remove them" : "; remove them"
            return "volume \"\(name)\" is in use by session\(sessions.count == 1 ? "" : "s") \(users)\(state) first (`strata rm`)"
        }
    }

    static func describe(_ error: SandboxError) -> String {
        switch error {
        case .setup(let step, let path, let reason):
            let what = path.isEmpty ? step : step + " " + path
            // These steps run after the seccomp filter (without no_new_privs) or under the
            // capabilities the manifest chose: the likely cause is the manifest, not the host.
            let confined = ["drop capabilities", "set user and groups", "set no_new_privs", "set nofile limit", "load seccomp filter"]
            let hint = confined.contains(step) ? "; check \"security\", \"user\" and \"limits\" in the manifest" : ""
            return "cannot start the session: \(what): \(reason)\(hint)"
        case .exec(let path, let reason): return "cannot run \(path) in the session: \(reason)"
        case .invalidSpec(let text): return "cannot start the session: \(text)"
        }
    }
}

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
    /// A lockfile named on the command line (`lock diff`) does not decode.
    case lockfile(LockfileError)
    /// An environment's lockfile does not decode (a merge conflict, a hand edit): it is
    /// left as it is, and nothing re-resolves in its place unless asked to.
    case unreadableLockfile(LockfileError)
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
    /// A `run` step's command failed. `step` names it (`step 3 (run: make) at envs/app.json:12:5`),
    /// `log` is the end of its output, `session` the kept session to look inside.
    case stepFailed(step: String, status: Int32, log: String, session: String?)
    /// The seccomp profile `security.seccomp` names cannot be read as a profile or compiled.
    case seccomp(SeccompError)
    /// No image in the store has this tag or id.
    case imageNotFound(String)
    /// `strata exec` into a session that no process runs (Docker: exit 1, "is not running").
    case sessionNotRunning(String)
    /// The request was cancelled by its caller before it finished.
    case cancelled
    /// Memory, pids or CPU limits asked of a rootless session, which has no cgroup it may
    /// write (no cgroup v2 delegated to the user).
    case rootlessLimits(manifest: String, reason: String)
    /// Something needs ids a rootless strata without a subordinate range does not have.
    case singleIDMap(what: String)

    /// 2 for usage and manifest errors (as the CLI convention says), 1 otherwise.
    public var exitCode: Int32 {
        switch self {
        case .usage, .manifest, .rootlessLimits, .singleIDMap: return 2
        default: return 1
        }
    }

    public var description: String {
        let sentence = message
        return sentence.contains(StrataError.noSpaceText) ? sentence + StrataError.noSpaceHint(sentence) : sentence
    }

    /// strerror(ENOSPC), as every layer below reports a failed write.
    static let noSpaceText = SystemError.text(ENOSPC)

    /// What a full disk needs said, whichever write hit it: how much is free where it was
    /// writing (of the paths the sentence names, the file system with the least room: the
    /// full one), and how to make room.
    static func noSpaceHint(_ sentence: String) -> String {
        var least: (path: String, free: Int64)?
        for word in sentence.split(separator: " ") where word.hasPrefix("/") {
            var path = String(word)
            while let last = path.last, ":,;)'`".contains(last) { path.removeLast() }
            while path.count > 1 {
                var info = statvfs()
                if statvfs(path, &info) == 0 {
                    let free = Int64(info.f_bavail) * Int64(info.f_frsize)
                    if least.map({ free < $0.free }) ?? true { least = (path, free) }
                    break
                }
                path = FileSystem.parent(of: path)
            }
        }
        let room = least.map { "\(Self.decimalSize($0.free)) free on the file system of \($0.path)" } ?? "the disk is full"
        return "; \(room): `strata gc` removes what nothing needs (`strata system df` shows what takes the space), then run this again"
    }

    /// "12.3 MB": decimal units, as the CLI prints sizes.
    static func decimalSize(_ bytes: Int64) -> String {
        var value = Double(bytes), unit = 0
        let units = ["B", "kB", "MB", "GB", "TB"]
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded(.down))
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    var message: String {
        switch self {
        case .usage(let text): return text
        case .manifest(let error): return error.description
        case .lockfile(let error): return "\(error)"
        case .unreadableLockfile(let error):
            return "the lockfile cannot be read: \(error); it was left as it is: repair it (a merge conflict?), or re-resolve every package with `strata lock --update` (or delete it and run `strata lock`)"
        case .staleLock(let lockfile, let reason):
            return "\(lockfile) is out of date (\(reason)); run `strata lock` and commit the result, or drop --frozen"
        case .input(let path, let reason): return "\(path): \(reason)"
        case .image(let error): return error.description
        case .archive(let path, let error): return "\(path): \(error)"
        case .store(let error): return error.description
        case .sandbox(let error): return error.description
        case .fetch(let error): return error.description
        case .seccomp(let error): return error.description
        case .cancelled: return "cancelled; nothing after the last finished step was kept"
        case .sessionNotRunning(let name):
            return "session \"\(name)\" is not running; enter it again with `strata shell --session \(name)`"
        case .imageNotFound(let name):
            return "there is no image \(name) in the store; `strata images` lists them (commit a session or import an archive to add one)"
        case .release(let suite, let error): return error.description(subject: "the InRelease file of \(suite)")
        case .resolve(let error): return error.description + "; change \"packages\" in the manifest"
        case .debianArchive(let path, let reason): return "\(path): \(reason)"
        case .configure(let reason, let log):
            let tail = log.split(separator: "\n").suffix(15).joined(separator: "\n")
            return "configuring the packages failed: \(reason)" + (tail.isEmpty ? "" : "; the end of its output:\n" + tail)
        case .rootlessLimits(let manifest, let reason):
            return "\(manifest): \"limits\" (or --memory, --pids-limit, --cpus) needs a cgroup, and a rootless session may only use a cgroup v2 delegated to its user: \(reason); run it under `systemd-run --user --scope -p Delegate=yes` on a cgroup v2 host, as root, or without the limits"
        case .singleIDMap(let what):
            return "\(what) needs user ids other than root, and this user has no subordinate ids in /etc/subuid and /etc/subgid (or newuidmap is missing); ask for a range (`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER`, package uidmap) or run as root"
        case .stepFailed(let step, let status, let log, let session):
            let look = session.map { "; nothing of it was kept as a layer; its session is kept: `strata shell --session \($0)` looks inside, `strata rm \($0)` removes it" } ?? ""
            let tail = log.split(separator: "\n", omittingEmptySubsequences: false).suffix(20).joined(separator: "\n")
            return "\(step) failed with exit status \(status)\(look)"
                + (!tail.contains(where: { !$0.isWhitespace }) ? "" : "; the end of its output:\n" + tail)
        }
    }
}

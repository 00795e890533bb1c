import Glibc
import StrataEnvironment
import StrataModel
import StrataOS

/// A lockfile named on the command line: a path, or a git revision of one.
public enum LockfileSource {
    /// `argument` is a file, `REV:PATH`, or (given `relativeTo`, a path) a bare revision of
    /// that path; files and git are looked up from the caller's working directory.
    public static func read(_ argument: String, relativeTo other: String?, context: RequestContext) throws(StrataError) -> (path: String, lockfile: Lockfile) {
        if access(EnvironmentPaths.absolute(argument, from: context.workingDirectory), F_OK) == 0 {
            let bytes: [UInt8]
            do { bytes = try HostFile.read(EnvironmentPaths.absolute(argument, from: context.workingDirectory), limit: 64 << 20) } catch {
                throw .input(path: argument, reason: "cannot read the lockfile: \(error.reason)")
            }
            do { return (argument, try Lockfile.decode(bytes, file: argument)) } catch { throw .lockfile(error) }
        }
        var revision = argument
        var path: String
        if let colon = argument.firstIndex(of: ":") {
            revision = String(argument[..<colon])
            path = String(argument[argument.index(after: colon)...])
        } else if let other {
            path = other
        } else {
            throw .usage("\(argument) is neither a lockfile nor REV:PATH")
        }
        if !path.hasPrefix("/") && !path.hasPrefix("./") { path = "./" + path }
        let name = "\(revision):\(path)"
        let bytes: [UInt8]
        do { bytes = try GitShow.read(name, context: context) } catch {
            throw .usage("cannot read \(name) from git (\(error)); give a lockfile path, REV:PATH or a revision")
        }
        do { return (name, try Lockfile.decode(bytes, file: name)) } catch { throw .lockfile(error) }
    }
}

/// `git show REV:PATH`, run without a shell.
enum GitShow {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func read(_ object: String, context: RequestContext) throws(Failure) -> [UInt8] {
        guard let git = Subprocess.locate("git", searchPath: context.variables["PATH"] ?? "/usr/bin:/bin") else {
            throw Failure(description: "git is not installed")
        }
        // git reads its configuration from HOME (safe.directory, for one).
        var process = Subprocess(executable: git, arguments: ["show", object], environment: context.environment(passing: ["PATH", "HOME"]))
        process.workingDirectory = context.workingDirectory
        process.standardError = .null
        let outcome: Subprocess.Outcome
        do { outcome = try process.run() } catch { throw Failure(description: "cannot run git: \(error.reason)") }
        guard outcome.succeeded else { throw Failure(description: "git show \(object) failed") }
        return outcome.standardOutput
    }
}

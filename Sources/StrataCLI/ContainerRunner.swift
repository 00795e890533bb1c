import Glibc
import Strata
import StrataEnvironment
import StrataJSON
import StrataModel
import StrataSandbox

/// `strata container-start`: the process `strata serve` starts for each container it
/// starts, as podman starts conmon. It runs the command in the container's kept session
/// with the stdin, stdout and stderr the daemon gave it (pipes, or a terminal's slave),
/// and stays the session's parent, so that the daemon can restart without taking a
/// running container's process with it, and signals reach the session as a `strata run`'s do.
///
///     strata container-start --root STORE [--tty] SESSION -- CMD [ARG…]
///     strata container-start --root STORE [--tty] --exec [--env K=V]… [--workdir DIR] [--user U] SESSION -- CMD…
///
/// With `--exec` the command joins the running session, as `strata exec` (`docker exec`).
///
/// fd 3, when open, is the daemon's status pipe: `s` once the command's execve succeeded;
/// otherwise one line saying why it did not start. The exit status is the command's, or
/// Docker's for a start that failed: 127 (command not found), 126 (not executable), 125.
enum ContainerRunner {
    static let statusDescriptor: Int32 = 3

    static func main(_ words: [String]) -> Never {
        var root: String?
        var terminal = false
        var exec = false
        var overlay: [String: JSONValue] = [:]
        var variables: [String: JSONValue] = [:]
        var rest = words[...]
        while let word = rest.first, word != "--", word.hasPrefix("--") {
            rest = rest.dropFirst()
            switch word {
            case "--root": root = rest.popFirst()
            case "--tty": terminal = true
            case "--exec": exec = true
            case "--env":
                guard let entry = rest.popFirst(), let equals = entry.firstIndex(of: "=") else { fail("--env takes KEY=VALUE", code: 125) }
                variables[String(entry[..<equals])] = .string(String(entry[entry.index(after: equals)...]))
            case "--workdir": overlay["workdir"] = rest.popFirst().map(JSONValue.string)
            case "--user": overlay["user"] = rest.popFirst().map(JSONValue.string)
            default: fail("container-start has no option \(word)", code: 125)
            }
        }
        guard let session = rest.popFirst(), rest.popFirst() == "--", !rest.isEmpty else {
            fail("usage: strata container-start --root STORE [--tty] SESSION -- CMD [ARG…]", code: 125)
        }
        let status = fcntl(statusDescriptor, F_GETFD) >= 0 ? statusDescriptor : nil
        if let status { _ = fcntl(status, F_SETFD, FD_CLOEXEC) }
        do {
            // The session's record keeps what it stands on; no lease to hold.
            let engine = try Invocation.engine(root: root, mirrors: [], frozen: true, progress: .quiet, lease: false)
            if exec {
                if !variables.isEmpty { overlay["env"] = .object(variables) }
                let settings: Manifest?
                do { settings = overlay.isEmpty ? nil : try Manifest.decodeOverlay(.object(overlay), source: "the exec's settings") } catch {
                    fail(error.description, code: 126)
                }
                exit(try engine.sessions.exec(session: session, argv: Array(rest), overlay: settings, terminal: terminal, startedSignal: status))
            }
            exit(try engine.sessions.start(session: session, argv: Array(rest), terminal: terminal, startedSignal: status))
        } catch {
            var code: Int32 = 125
            if case .sandbox(.exec(_, let reason)) = error {
                code = reason.contains("No such file") ? 127 : 126
            }
            fail(error.description, code: code)
        }
    }

    /// Says why on the status pipe (the daemon's), or on stderr when started by hand.
    static func fail(_ message: String, code: Int32) -> Never {
        if fcntl(statusDescriptor, F_GETFD) >= 0 {
            StandardOutput.write(message + "\n", to: statusDescriptor)
        } else {
            StandardError.write("strata: " + message + "\n")
        }
        exit(code)
    }
}

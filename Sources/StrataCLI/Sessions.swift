import ArgumentParser
import Glibc
import Strata
import StrataJSON
import StrataSessions
import StrataStore

extension StrataCommand {
    /// `strata sessions` (`strata ps`): the store's sessions, as `docker ps -a --size`.
    struct Sessions: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sessions",
            abstract: "List the sessions in the store, running or kept.",
            discussion: """
            SIZE is the bytes of the session's changes (files and symlinks of its upper dir, a hard-linked file once). --json prints one array of objects with the fields id, name (null when unnamed), environment, manifest (null for sessions made before it was recorded), snapshot (the full chain id), created (RFC 3339, UTC), size (bytes), running (true or false) and volumes (names); the fields stay as they are in later versions.

              strata run --name work busybox -- sh -c 'echo hi > /greeting'
              strata ps
              strata ps --json
            """,
            aliases: ["ps"])

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Print a JSON array instead of a table.") var json = false
        @Flag(name: .shortAndLong, help: "Print only session ids.") var quiet = false

        func run() throws {
            let sessions = try options.engine().sessions.list()
            if json {
                let values: [JSONValue] = sessions.map { summary in
                    let record = summary.record
                    return .object([
                        "id": .string(record.id),
                        "name": record.name.map(JSONValue.string) ?? .null,
                        "environment": .string(record.environment),
                        "manifest": record.manifest.map(JSONValue.string) ?? .null,
                        "snapshot": .string(record.snapshot.description),
                        "created": .string(Listing.rfc3339(record.created)),
                        "size": .int(summary.size),
                        "running": .bool(summary.running),
                        "volumes": .array(record.volumes.map(JSONValue.string)),
                    ])
                }
                print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
                return
            }
            if quiet {
                for summary in sessions { print(summary.record.id) }
                return
            }
            let now = Int64(time(nil))
            var rows = [["ID", "NAME", "ENVIRONMENT", "SNAPSHOT", "CREATED", "SIZE", "STATUS"]]
            for summary in sessions {
                let record = summary.record
                rows.append([
                    record.id, record.name ?? "-", record.environment, record.snapshot.short,
                    Listing.ago(now - record.created), Listing.humanSize(summary.size),
                    summary.running ? "running" : "stopped",
                ])
            }
            Listing.printTable(rows)
        }
    }

    /// `strata rm SESSION…`: remove kept sessions, as `docker rm`.
    struct RemoveSessions: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Remove kept sessions and their changes.",
            discussion: """
            A running session is refused: stop what runs in it first (unlike `docker rm -f`, strata does not kill it for you). Every session given is tried; the command fails (exit 1) if any could not be removed.

              strata rm work
              strata rm $(strata ps -q)
            """)

        @OptionGroup var options: StoreOptions
        @Argument(help: "The sessions: names or ids.") var sessions: [String]

        func validate() throws {
            if sessions.isEmpty { throw ValidationError("name at least one session to remove (`strata sessions` lists them)") }
        }

        func run() throws {
            let sessions = try options.engine().sessions
            var failed = false
            for session in self.sessions {
                do {
                    try sessions.remove(session)
                    print(session)
                } catch {
                    StandardError.write("strata: " + error.description + "\n")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    /// `strata diff SESSION`: what a session changed, as `docker diff`.
    struct DiffSession: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "List the paths a session added (A), changed (C) or deleted (D).",
            discussion: """
            One line per path, sorted: A for a path the snapshot did not have, C for one it had (a directory holding a change is listed as changed too), D for one the session removed. A deleted or replaced directory is one D line, not one per file it held. --json prints an array of {"kind": "A"|"C"|"D", "path": …}.

              strata run --name work busybox -- sh -c 'rm /etc/motd; echo x > /new'
              strata diff work
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Print a JSON array instead of lines.") var json = false
        @Argument(help: "The session: a name or id.") var session: String

        func run() throws {
            let changes = try options.engine().sessions.diff(session)
            if json {
                let values: [JSONValue] = changes.map { .object(["kind": .string($0.kind.rawValue), "path": .string($0.path)]) }
                print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
                return
            }
            var text = ""
            for change in changes { text += change.description + "\n" }
            print(text, terminator: "")
        }
    }
}

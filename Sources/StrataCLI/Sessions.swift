import ArgumentParser
import Glibc
import Strata
import StrataJSON
import StrataStore

extension StrataCommand {
    /// `strata sessions` (`strata ps`): the store's sessions, as `docker ps -a --size`.
    struct Sessions: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sessions",
            abstract: "List the sessions in the store, running or kept.",
            discussion: """
            SIZE is the bytes of the session's changes (files and symlinks of its upper dir,
            a hard-linked file once). --json prints one array of objects with the fields id,
            name (null when unnamed), environment, manifest (null for sessions made before it was
            recorded), snapshot (the full chain id), created (RFC 3339, UTC), size (bytes), running
            (true or false) and volumes (names); the fields stay as they are in later versions.

              strata run --name work busybox -- sh -c 'echo hi > /greeting'
              strata ps
              strata ps --json
            """,
            aliases: ["ps"])

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Print a JSON array instead of a table.") var json = false
        @Flag(name: .shortAndLong, help: "Print only session ids.") var quiet = false

        func run() throws {
            let sessions = try options.engine().sessions()
            if json {
                let values: [JSONValue] = sessions.map { summary in
                    let record = summary.record
                    return .object([
                        "id": .string(record.id),
                        "name": record.name.map(JSONValue.string) ?? .null,
                        "environment": .string(record.environment),
                        "manifest": record.manifest.map(JSONValue.string) ?? .null,
                        "snapshot": .string(record.snapshot.description),
                        "created": .string(Engine.rfc3339(record.created)),
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
            A running session is refused: stop what runs in it first (unlike `docker rm -f`,
            strata does not kill it for you). Every session given is tried; the command fails
            (exit 1) if any could not be removed.

              strata rm work
              strata rm $(strata ps -q)
            """)

        @OptionGroup var options: StoreOptions
        @Argument(help: "The sessions: names or ids.") var sessions: [String]

        func validate() throws {
            if sessions.isEmpty { throw ValidationError("name at least one session to remove (`strata sessions` lists them)") }
        }

        func run() throws {
            let engine = try options.engine()
            var failed = false
            for session in sessions {
                do {
                    try engine.remove(session: session)
                    print(session)
                } catch {
                    FileHandleStderr.write("strata: " + error.description + "\n")
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
            One line per path, sorted: A for a path the snapshot did not have, C for one it had
            (a directory holding a change is listed as changed too), D for one the session removed.
            A deleted or replaced directory is one D line, not one per file it held.
            --json prints an array of {"kind": "A"|"C"|"D", "path": …}.

              strata run --name work busybox -- sh -c 'rm /etc/motd; echo x > /new'
              strata diff work
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Print a JSON array instead of lines.") var json = false
        @Argument(help: "The session: a name or id.") var session: String

        func run() throws {
            let changes = try options.engine().diff(session: session)
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

/// How the listing commands print: aligned columns, sizes and ages as Docker prints them.
enum Listing {
    /// Columns padded to their widest cell and three spaces apart; the last is not padded.
    static func printTable(_ rows: [[String]]) {
        guard let columns = rows.first?.count else { return }
        let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for row in rows {
            for (index, cell) in row.enumerated() {
                text += index == columns - 1 ? cell : cell + String(repeating: " ", count: widths[index] + 3 - cell.count)
            }
            text += "\n"
        }
        print(text, terminator: "")
    }

    /// "12 B", "4.1 kB", "1.2 GB": decimal units, as Docker prints sizes.
    static func humanSize(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded(.down))
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// "Less than a second ago", "About a minute ago", "3 hours ago": Docker's wording.
    static func ago(_ seconds: Int64) -> String {
        let hours = (Double(seconds) / 3600).rounded()
        let text: String
        switch seconds {
        case ..<1: text = "Less than a second"
        case 1: text = "1 second"
        case ..<60: text = "\(seconds) seconds"
        case ..<120: text = "About a minute"
        case ..<3600: text = "\(seconds / 60) minutes"
        case _ where hours == 1: text = "About an hour"
        case ..<(48 * 3600): text = "\(Int(hours)) hours"
        case ..<(14 * 86400): text = "\(seconds / 86400) days"
        case ..<(60 * 86400): text = "\(seconds / (7 * 86400)) weeks"
        case ..<(730 * 86400): text = "\(seconds / (30 * 86400)) months"
        default: text = "\(seconds / (365 * 86400)) years"
        }
        return text + " ago"
    }
}

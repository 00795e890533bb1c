import ArgumentParser
import Glibc
import Strata
import StrataJSON
import StrataSessions
import StrataStore

extension StrataCommand {
    /// `strata volume …`: named volumes, data in the store that outlives sessions.
    struct VolumeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "volume",
            abstract: "Manage named volumes: data in the store that sessions mount and that outlives them.",
            discussion: """
            A manifest mounts a volume with {"type": "volume", "name": NAME, "target": "/abs/path"}; it is created empty on first use. Its data is never part of a commit.

              strata volume create pip-cache
              strata volume ls
              strata volume inspect pip-cache
              strata volume rm pip-cache
            """,
            subcommands: [List.self, Create.self, Inspect.self, Remove.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "ls",
                abstract: "List volumes.",
                discussion: """
                SESSIONS names the sessions that mount the volume (they keep it from being removed). --json prints an array of objects with the fields name, mountpoint, created (RFC 3339, UTC) and sessions.
                """)
            @OptionGroup var options: StoreOptions
            @Flag(name: .long, help: "Print a JSON array instead of a table.") var json = false
            @Flag(name: .shortAndLong, help: "Print only volume names.") var quiet = false

            func run() throws {
                let sessions = try options.engine().sessions
                let volumes = try sessions.volumes()
                if quiet {
                    for volume in volumes { print(volume.name) }
                    return
                }
                var users: [String: [String]] = [:]
                for volume in volumes { users[volume.name] = try sessions.sessions(usingVolume: volume.name) }
                if json {
                    let values: [JSONValue] = volumes.map { volume in
                        .object([
                            "name": .string(volume.name), "mountpoint": .string(volume.dataPath),
                            "created": .string(Listing.rfc3339(volume.created)),
                            "sessions": .array((users[volume.name] ?? []).map(JSONValue.string)),
                        ])
                    }
                    print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
                    return
                }
                let now = Int64(time(nil))
                var rows = [["VOLUME NAME", "CREATED", "SESSIONS"]]
                for volume in volumes {
                    let using = users[volume.name] ?? []
                    rows.append([volume.name, Listing.ago(now - volume.created), using.isEmpty ? "-" : using.joined(separator: ",")])
                }
                Listing.printTable(rows)
            }
        }

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "create",
                abstract: "Create a volume (an existing one is left as it is); prints its name.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The name, [a-zA-Z0-9][a-zA-Z0-9_.-]*; random when omitted.") var name: String?

            func run() throws {
                print(try options.engine().sessions.createVolume(name).name)
            }
        }

        struct Inspect: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "inspect",
                abstract: "Print volumes as a JSON array, with Docker's fields.",
                discussion: """
                Name, Mountpoint (the directory sessions mount), CreatedAt (RFC 3339, UTC), Driver and Scope ("local"), Labels and Options (empty), and UsedBy (the sessions mounting it).
                """)
            @OptionGroup var options: StoreOptions
            @Argument(help: "The volumes.") var names: [String]

            func validate() throws {
                if names.isEmpty { throw ValidationError("name at least one volume to inspect (`strata volume ls` lists them)") }
            }

            func run() throws {
                let sessions = try options.engine().sessions
                var values: [JSONValue] = []
                var failed = false
                for name in names {
                    do {
                        let volume = try sessions.volume(name)
                        values.append(.object([
                            "Name": .string(volume.name), "Mountpoint": .string(volume.dataPath),
                            "CreatedAt": .string(Listing.rfc3339(volume.created)), "Driver": .string("local"),
                            "Scope": .string("local"), "Labels": .object([:]), "Options": .object([:]),
                            "UsedBy": .array(try sessions.sessions(usingVolume: name).map(JSONValue.string)),
                        ]))
                    } catch {
                        StandardError.write("strata: " + error.description + "\n")
                        failed = true
                    }
                }
                print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
                if failed { throw ExitCode(1) }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "rm",
                abstract: "Remove volumes and their data.",
                discussion: """
                A volume that a session mounts, running or kept, is refused (as Docker refuses a volume a container uses): `strata rm` the session first. --force does not change that; as with `docker volume rm -f`, it only makes a volume that does not exist no error. Every volume given is tried; the command fails (exit 1) if any could not be removed.
                """)
            @OptionGroup var options: StoreOptions
            @Flag(name: .shortAndLong, help: "Do not fail for a volume that does not exist.") var force = false
            @Argument(help: "The volumes.") var names: [String]

            func validate() throws {
                if names.isEmpty { throw ValidationError("name at least one volume to remove (`strata volume ls` lists them)") }
            }

            func run() throws {
                let sessions = try options.engine().sessions
                var failed = false
                for name in names {
                    do {
                        try sessions.removeVolume(name, force: force)
                        print(name)
                    } catch {
                        StandardError.write("strata: " + error.description + "\n")
                        failed = true
                    }
                }
                if failed { throw ExitCode(1) }
            }
        }
    }
}

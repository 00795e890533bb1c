import ArgumentParser
import Strata
import StrataEnvironment
import StrataGC
import StrataJSON

extension StrataCommand {
    /// `strata system df|prune`: the store as a whole, as `docker system` has it.
    struct SystemCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "system",
            abstract: "The store as a whole: what it takes on disk, and pruning it.",
            subcommands: [DiskFree.self, Prune.self])
    }

    /// `strata system df [-v] [--json]`.
    struct DiskFree: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "df",
            abstract: "Show the store's disk usage by kind and, with -v, by environment, image and session (docker system df).",
            discussion: """
            Sizes are apparent bytes, each file once: a layer several environments share counts once, and a flattened layer's hard links to its packages' files cost nothing. ACTIVE counts what a lockfile, image or session needs; RECLAIMABLE is what `strata gc` would free (for sessions: the changes of stopped unnamed ones, which `strata prune` removes; for volumes: unused ones, which only `strata volume rm` removes). With -v, SHARED is what another environment, image or session needs too, EXCLUSIVE what only this one needs: what removing it would let gc free.

            --json prints {"kinds": [{kind, count, active, bytes, reclaimable}], "roots": [{kind, name, path?, bytes, shared, exclusive, layers, layer_bytes, blobs, blob_bytes}], "bytes"}.
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .shortAndLong, help: "Show each environment, image and session too.") var verbose = false
        @Flag(name: .long, help: "Print JSON instead of tables.") var json = false

        func run() throws {
            let usage = try options.engine().diskUsage()
            if json {
                print(String(decoding: JSON.canonicalBytes(DiskFree.json(usage)), as: UTF8.self), terminator: "")
                return
            }
            Listing.printTable([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]] + usage.kinds.map { kind in
                let share = kind.bytes == 0 ? 0 : Int((Double(kind.reclaimable) * 100 / Double(kind.bytes)).rounded())
                return [kind.kind, String(kind.count), String(kind.active), Listing.humanSize(kind.bytes),
                        Listing.humanSize(kind.reclaimable) + " (\(share)%)"]
            })
            if verbose {
                print("")
                DiskFree.printRoots(usage.roots)
            }
        }

        static func printRoots(_ roots: [RootUsage]) {
            Listing.printTable([["KIND", "NAME", "LAYERS", "BLOBS", "SIZE", "SHARED", "EXCLUSIVE"]] + roots.map { usage in
                [kind(usage.root), usage.root.name, String(usage.layers), String(usage.blobs), Listing.humanSize(usage.bytes),
                 Listing.humanSize(usage.shared), Listing.humanSize(usage.exclusive)]
            })
        }

        static func kind(_ root: StoreRoot) -> String {
            switch root.kind {
            case .lockfile: "environment"
            case .session: "session"
            case .image: "image"
            }
        }

        static func json(_ usage: DiskUsage) -> JSONValue {
            .object([
                "kinds": .array(usage.kinds.map { kind in
                    .object(["kind": .string(kind.kind), "count": .int(Int64(kind.count)), "active": .int(Int64(kind.active)),
                             "bytes": .int(kind.bytes), "reclaimable": .int(kind.reclaimable)])
                }),
                "roots": .array(usage.roots.map(json)),
                "bytes": .int(usage.bytes),
            ])
        }

        static func json(_ usage: RootUsage) -> JSONValue {
            var fields: [String: JSONValue] = [
                "kind": .string(kind(usage.root)), "name": .string(usage.root.name), "bytes": .int(usage.bytes),
                "shared": .int(usage.shared), "exclusive": .int(usage.exclusive),
                "layers": .int(Int64(usage.layers)), "layer_bytes": .int(usage.layerBytes),
                "blobs": .int(Int64(usage.blobs)), "blob_bytes": .int(usage.blobBytes),
            ]
            if case .lockfile(let path) = usage.root.kind { fields["path"] = .string(path) }
            return .object(fields)
        }
    }

    /// `strata du ENV`: one environment's share of the store.
    struct EnvironmentUsage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "du",
            abstract: "Show what an environment built here takes in the store: all of it, what it shares, what is its alone.",
            discussion: "The columns of `strata system df -v` for ENV's lockfile. --json prints that row's object.")

        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: ArgumentHelp(OptionHelp.lockfile, valueName: "PATH")) var lockfile: String?
        @Flag(name: .long, help: "Print JSON instead of a table.") var json = false
        @Argument(help: "The environment (NAME or a manifest path).") var environment: String

        func run() throws {
            let engine = try options.engine()
            let loaded = try engine.load(environment, lockfile: lockfile)
            let usage = try engine.diskUsage()
            guard let row = usage.roots.first(where: { $0.root.kind == .lockfile(path: loaded.paths.lockfile) }) else {
                throw StrataError.input(path: loaded.paths.lockfile,
                                        reason: "\(loaded.paths.name) has not been built in this store; run `strata build \(environment)` first")
            }
            if json {
                print(String(decoding: JSON.canonicalBytes(DiskFree.json(row)), as: UTF8.self), terminator: "")
            } else {
                DiskFree.printRoots([row])
            }
        }
    }
}

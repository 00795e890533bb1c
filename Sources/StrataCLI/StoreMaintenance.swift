import ArgumentParser
import Glibc
import Strata
import StrataEnvironment
import StrataGC

extension StrataCommand {
    /// `strata gc [--dry-run] [--keep-recent DURATION]`: remove what no root reaches.
    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove every blob, layer, snapshot, cache entry and temporary file that nothing needs.",
            discussion: """
            Kept: what every lockfile built here still pins (a lockfile deleted or changed stops keeping what it no longer names), every session (running or kept) and what it stands on, every image in `strata images`, volumes, and run-step cache directories. gc waits for builds, pulls, commits and session start-ups in progress, and they wait for it; a running shell does not hold it up. Prints each object removed with the bytes it freed, then the totals by kind.

              strata gc --dry-run          # what would go, removing nothing
              strata gc --keep-recent 24h  # keep what was made in the last day
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "List what would be removed, and remove nothing.") var dryRun = false
        @Option(name: .long, help: ArgumentHelp("Keep unneeded objects made less than this long ago (90s, 30m, 24h, 7d).", valueName: "DURATION"))
        var keepRecent: String?

        func validate() throws {
            if let keepRecent, KeepDuration.parse(keepRecent) == nil {
                throw ValidationError("--keep-recent \(keepRecent) is not a duration: give a number and a unit, such as 90s, 30m, 24h, 7d or 1h30m")
            }
        }

        func run() throws {
            let engine = try options.engine(lease: false)
            let keep = keepRecent.flatMap(KeepDuration.parse) ?? 0
            let report = try engine.gc(CollectionOptions(dryRun: dryRun, keepRecent: keep))
            for note in report.notes { engine.context.note(note) }
            Collect.print(report)
        }

        /// The objects, one per row (kind, name, bytes freed), then the totals.
        static func print(_ report: CollectionReport) {
            if !report.removed.isEmpty {
                Listing.printTable(report.removed.map { [$0.kind.rawValue, $0.name, Listing.humanSize($0.bytes)] })
            }
            Swift.print(summary(report))
        }

        static func summary(_ report: CollectionReport) -> String {
            let kept = report.keptRecent == 0 ? "" : "; \(report.keptRecent) younger than --keep-recent kept"
            guard !report.removed.isEmpty else { return "nothing to remove" + kept }
            let kinds = report.totals.map { "\($0.kind.counted($0.count)) (\(Listing.humanSize($0.bytes)))" }
            return (report.dryRun ? "would free " : "freed ") + Listing.humanSize(report.freedBytes) + ": "
                + kinds.joined(separator: ", ") + kept
        }
    }

    /// `strata prune [-f]`: stopped unnamed sessions, untagged images, then gc.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Remove stopped unnamed sessions and untagged images, then everything nothing needs (docker system prune).",
            discussion: """
            Named sessions, running sessions, tagged images and volumes stay. Asks first unless --force is given.

              strata prune -f
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation.") var force = false

        func run() throws {
            if !force {
                StandardError.write("""
                    WARNING! This will remove:
                      - all stopped sessions without a name
                      - all images without a tag
                      - every blob, layer and snapshot no lockfile, image or session needs
                    Are you sure you want to continue? [y/N] 
                    """)
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    StandardError.write("strata: nothing removed\n")
                    throw ExitCode(1)
                }
            }
            let engine = try options.engine(lease: false)
            let report = try engine.prune()
            for note in report.collection.notes { engine.context.note(note) }
            for session in report.sessions { print("removed session " + session) }
            for image in report.images { print("removed untagged image " + image.description) }
            Collect.print(report.collection)
        }
    }
}

/// A length of time as `--keep-recent` takes it: a number and a unit (s, m, h, d), repeated
/// (`1h30m`), as Go's durations that Docker's filters take, plus days.
enum KeepDuration {
    /// Seconds, or nil when `text` is not such a duration.
    static func parse(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                number.append(character)
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            default: return nil
            }
            guard let value = Int64(number), value <= Int64(Int32.max) else { return nil }
            total += value * unit
            number = ""
            sawUnit = true
        }
        guard sawUnit, number.isEmpty else { return nil }
        return total
    }
}

extension StrataCommand {
    /// `strata fsck [--repair]`: check every object of the store.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fsck",
            abstract: "Check every blob, layer, snapshot, image, session and build record of the store; exit 1 if anything is wrong.",
            discussion: """
            Blobs are hashed again against their names; each layer's tree is compared with its seal, what it was when published (content, modes, owners, xattrs), naming the files that differ; snapshots, images (index.json, manifests, configs), sessions and build records must name what exists. One line per problem: the object, its path, what is wrong.

            --repair moves what is corrupt to the store's quarantine/ (kept for you to look at), then builds every lockfile built here again: a .deb comes again from a mirror, a registry base's blob from its registry, a copied tree or tarball from the project, and layers are unpacked again from their blobs. It says what it could not restore (an image's own blob, say), and checks again: exit 0 only when nothing is left wrong. It waits for builds and session start-ups in progress, as gc does.

              strata fsck
              strata fsck --repair
            """)

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Quarantine what is corrupt and restore what can be fetched or unpacked again.") var repair = false

        func run() throws {
            if !repair {
                let report = try options.engine().fsck()
                Check.print(report)
                if !report.problems.isEmpty { throw ExitCode(1) }
                return
            }
            let engine = try options.engine(lease: false)
            let (found, repair, after) = try engine.repair()
            for problem in found.problems { Swift.print("found: " + problem.description) }
            for path in repair.quarantined { Swift.print("quarantined " + path) }
            if repair.droppedSnapshots > 0 { Swift.print("dropped \(repair.droppedSnapshots) snapshot record(s) naming a layer that was gone") }
            if repair.sealed > 0 { Swift.print("sealed \(repair.sealed) layer(s) published before seals were recorded") }
            for path in repair.rebuilt { Swift.print("built again: " + path) }
            for note in repair.notes { engine.context.note(note) }
            Check.print(after)
            if !after.problems.isEmpty { throw ExitCode(1) }
        }

        static func print(_ report: CheckReport) {
            for problem in report.problems { Swift.print(problem.description) }
            let checked = "checked \(report.blobs) blobs, \(report.layers) layers, \(report.snapshots) snapshots, \(report.images) images, \(report.sessions) sessions"
            let unsealed = report.unsealed.isEmpty ? "" : "; \(report.unsealed.count) layers have no seal yet (published before strata recorded seals; `strata fsck --repair` seals them)"
            Swift.print(checked + ": " + (report.problems.isEmpty ? "no problems" : "\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")") + unsealed)
            for note in report.notes { StandardError.write("strata: " + note + "\n") }
        }
    }
}

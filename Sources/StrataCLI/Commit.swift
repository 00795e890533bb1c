import ArgumentParser
import Glibc
import Strata
import StrataModel

extension StrataCommand {
    /// `strata commit SESSION --tag NAME[:TAG]`: a session's changes as a new image in the store.
    struct Commit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "commit",
            abstract: "Make an OCI image of a session: its snapshot's layers plus its changes as the top layer.",
            discussion: """
            The image is tagged in the store, which is an OCI image layout (`skopeo inspect
            oci:STORE:NAME:TAG` reads it). Its config takes env, workdir, user and command from the
            session's manifest; --change applies Dockerfile instructions on top. With SOURCE_DATE_EPOCH
            set, file mtimes are clamped to it and the image's times are it: the same change gives the
            same image digest. Layers are kept as tars in the store (fast to commit and to unpack) and
            compressed when an image leaves it (`strata image export`); --compression stores them
            compressed instead. Prints the image id (its manifest digest).

              strata run --name work busybox -- sh -c 'echo hi > /greeting'
              strata commit work --tag greeting:1 --change 'CMD ["cat", "/greeting"]'
            """)

        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: ArgumentHelp("The image's tag (a second argument works too).", valueName: "NAME[:TAG]"))
        var tag: String?
        @Option(name: [.short, .long], help: "A comment for the image's history.") var message: String?
        @Option(name: [.short, .long], help: "The image's author.") var author: String?
        @Option(name: [.short, .long], help: ArgumentHelp("A Dockerfile instruction to apply: ENV, CMD, ENTRYPOINT, WORKDIR, USER, LABEL, STOPSIGNAL (repeatable).", valueName: "INSTRUCTION"))
        var change: [String] = []
        @Option(name: .long, help: ArgumentHelp("How layers are stored: none, gzip or zstd.", valueName: "KIND"))
        var compression: String = ImageCompression.none.rawValue
        @Argument(help: "The session: its name or id.") var session: String
        @Argument(help: "The image's tag, NAME[:TAG] (or --tag).") var reference: String?

        func run() throws {
            guard let compression = ImageCompression(rawValue: compression) else {
                throw StrataError.usage("--compression \(self.compression) is not one of none, gzip, zstd")
            }
            guard let text = tag ?? reference else {
                throw StrataError.usage("name the image: `strata commit \(session) --tag NAME[:TAG]`")
            }
            if tag != nil, reference != nil { throw StrataError.usage("give the image's tag once, as --tag or as an argument") }
            let parsed: ImageReference
            do { parsed = try ImageReference(parsing: text) } catch { throw StrataError.usage(error.description) }
            let engine = try options.engine()
            let result = try engine.commit(session: session, options: CommitOptions(
                reference: parsed, message: message, author: author, changes: change, compression: compression,
                sourceDateEpoch: try Self.sourceDateEpoch()))
            if result.merged > 0 {
                engine.note("the snapshot's bottom \(result.merged) layers were merged into one (images keep at most 40 layers)")
            }
            print(result.manifest)
        }

        /// SOURCE_DATE_EPOCH as reproducible-builds.org defines it: a decimal count of seconds.
        static func sourceDateEpoch() throws(StrataError) -> Int64? {
            guard let raw = getenv("SOURCE_DATE_EPOCH") else { return nil }
            let text = String(cString: raw)
            if text.isEmpty { return nil }
            guard let value = Int64(text), value >= 0 else {
                throw .usage("SOURCE_DATE_EPOCH=\(text) is not a number of seconds since 1970; set it to, e.g., $(git log -1 --format=%ct)")
            }
            return value
        }
    }
}

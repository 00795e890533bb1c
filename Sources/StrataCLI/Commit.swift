import ArgumentParser
import Strata
import StrataEnvironment
import StrataImages
import StrataModel

extension ImageCompression: ExpressibleByArgument {}

extension StrataCommand {
    /// `strata commit SESSION --tag NAME[:TAG]`: a session's changes as a new image in the store.
    struct Commit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "commit",
            abstract: "Make an OCI image of a session: its snapshot's layers plus its changes as the top layer.",
            discussion: """
            The image is tagged in the store, which is an OCI image layout (`skopeo inspect oci:STORE:NAME:TAG` reads it). Its config takes env, workdir, user and command from the session's manifest and the base image's config; --change applies Dockerfile instructions on top. A session whose manifest or lockfile is gone cannot be committed: restore them first. With SOURCE_DATE_EPOCH set, file mtimes are clamped to it and the image's times are it: the same change gives the same image digest. Layers are kept as tars in the store (fast to commit and to unpack) and compressed when an image leaves it (`strata image save`); --compression stores them compressed instead. Prints the image id (its manifest digest).

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
        @Option(name: .long, help: "How layers are stored.") var compression: ImageCompression = .none
        @Argument(help: "The session: its name or id.") var session: String
        @Argument(help: "The image's tag, NAME[:TAG] (or --tag).") var reference: String?

        func run() throws {
            guard let text = tag ?? reference else {
                throw StrataError.usage("name the image: `strata commit \(session) --tag NAME[:TAG]`")
            }
            if tag != nil, reference != nil { throw StrataError.usage("give the image's tag once, as --tag or as an argument") }
            let engine = try options.engine()
            let result = try engine.images.commit(session: session, options: CommitOptions(
                reference: try ImageName.parse(text), message: message, author: author, changes: change,
                compression: compression, sourceDateEpoch: try engine.context.sourceDateEpoch()))
            if result.merged > 0 {
                engine.context.note("the snapshot's bottom \(result.merged) layers were merged into one (images keep at most 40 layers)")
            }
            print(result.manifest)
        }
    }
}

/// A NAME[:TAG] the user typed, or a usage error saying why it is none.
enum ImageName {
    static func parse(_ text: String) throws(StrataError) -> ImageReference {
        do { return try ImageReference(parsing: text) } catch { throw .usage(error.description) }
    }

    static func parse(optional text: String?) throws(StrataError) -> ImageReference? {
        guard let text else { return nil }
        return try parse(text)
    }
}

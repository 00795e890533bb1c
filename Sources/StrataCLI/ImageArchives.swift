import ArgumentParser
import Strata
import StrataEnvironment
import StrataImages
import StrataModel
import StrataOCI

extension ImageArchiveFormat: ExpressibleByArgument {}

extension StrataCommand.ImageCommand {
    /// `strata image save IMAGE -o FILE`: an image as an archive other tools load (`docker save`).
    struct Save: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "save",
            abstract: "Write an image to a tar: an OCI layout (oci) or the docker save format (docker-archive).",
            discussion: """
            An oci archive's layers are compressed (--compression, gzip by default; each layer is compressed once and remembered); a docker-archive holds uncompressed layer tars, as `docker save` writes them. The file appears only when complete. `podman load`, `docker load`, `skopeo copy oci-archive:…` and `strata image load` read both.

              strata image save greeting:1 -o greeting.tar
              strata image save greeting:1 --format docker-archive -o greeting-docker.tar
            """)

        struct Arguments: ParsableArguments {
            @OptionGroup var store: StoreOptions
            @Option(name: .long, help: "The archive's format.") var format: ImageArchiveFormat = .ociLayout
            @Option(name: .shortAndLong, help: ArgumentHelp("The file to write.", valueName: "FILE")) var output: String
            @Option(name: .long, help: "Layer compression of an oci archive.") var compression: ImageCompression = .gzip
            @Argument(help: "The image.") var image: String

            func save() throws(StrataError) {
                let engine = try store.engine()
                try engine.images.save(image, format: format, to: EnvironmentPaths.absolute(output, from: engine.context.workingDirectory),
                                       compression: compression)
            }
        }

        @OptionGroup var arguments: Arguments

        func run() throws { try arguments.save() }
    }

    /// `strata image export`, the spelling before `save`: kept for one release, not listed.
    struct ExportAlias: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "The old name of `strata image save`.", shouldDisplay: false)

        @OptionGroup var arguments: Save.Arguments

        func run() throws {
            StandardError.write("strata: `strata image export` is now `strata image save`; the old name goes in the next release\n")
            try arguments.save()
        }
    }

    /// `strata image load FILE`: the images of an archive into the store (`docker load`).
    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "load",
            abstract: "Store the images of an archive (OCI or docker-archive, as podman save, skopeo copy, docker save or strata image save write).",
            discussion: """
            Every blob is verified before anything is stored or tagged: a truncated or corrupt archive stores nothing. The images are tagged as the archive names them (`docker.io/library/x:1` as `x:1`), or as --tag for an archive of one image. Prints the tags set.

              strata image load greeting.tar
              strata image load -i greeting.tar --tag greeting:copy
            """)

        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: ArgumentHelp("Tag the (single) image so, instead of the archive's names.", valueName: "NAME[:TAG]"))
        var tag: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("The archive (or give it as the argument).", valueName: "FILE")) var input: String?
        @Argument(help: "The archive.") var file: String?

        func validate() throws {
            if input == nil && file == nil { throw ValidationError("give the archive to load: `strata image load FILE`") }
            if input != nil && file != nil { throw ValidationError("give the archive once, as -i FILE or as the argument") }
        }

        func run() throws {
            let engine = try options.engine()
            let path = EnvironmentPaths.absolute(input ?? file ?? "", from: engine.context.workingDirectory)
            for name in try engine.images.load(path, tag: try ImageName.parse(optional: tag)) { print(name) }
        }
    }

    /// `strata image import ROOTFS.tar NAME[:TAG]`: a root filesystem tarball as an image (`docker import`).
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Make an image of a root filesystem tarball (plain, gzip, xz, zstd, bzip2 or lz4).",
            discussion: """
            The image has one layer, the tarball's tar as it is, and a config with this machine's architecture; --change sets its env, command and more as Dockerfile instructions do. Prints the image id. To store the images of an image archive (OCI or docker save), use `strata image load`.

              tar -C rootfs -czf rootfs.tar.gz .
              strata image import rootfs.tar.gz base:1 --change 'CMD ["/bin/sh"]'
            """)

        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: ArgumentHelp("The image's tag (a second argument works too).", valueName: "NAME[:TAG]"))
        var tag: String?
        @Option(name: [.short, .long], help: ArgumentHelp("A Dockerfile instruction to apply: ENV, CMD, ENTRYPOINT, WORKDIR, USER, LABEL, STOPSIGNAL (repeatable).", valueName: "INSTRUCTION"))
        var change: [String] = []
        @Option(name: [.short, .long], help: "A comment for the image's history.") var message: String?
        @Argument(help: "The root filesystem tarball.") var file: String
        @Argument(help: "The image's tag, NAME[:TAG] (or --tag).") var reference: String?

        func run() throws {
            if tag != nil, reference != nil { throw StrataError.usage("give the image's tag once, as --tag or as an argument") }
            let engine = try options.engine()
            let path = EnvironmentPaths.absolute(file, from: engine.context.workingDirectory)
            // Before `load` existed, `import` read image archives: they still load, for one release.
            if engine.images.isImageArchive(path) {
                engine.context.note("\(file) is an image archive: loading it (`strata image load`; `import` takes a root filesystem tarball)")
                for name in try engine.images.load(path, tag: try ImageName.parse(optional: tag ?? reference)) { print(name) }
                return
            }
            guard let text = tag ?? reference else {
                throw StrataError.usage("name the image: `strata image import \(file) NAME[:TAG]`")
            }
            let id = try engine.images.importRootfs(path, options: RootfsImportOptions(
                reference: try ImageName.parse(text), changes: change, message: message,
                sourceDateEpoch: try engine.context.sourceDateEpoch()))
            print(id)
        }
    }
}

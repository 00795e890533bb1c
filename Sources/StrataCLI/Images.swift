import ArgumentParser
import Glibc
import Strata
import StrataJSON
import StrataModel
import StrataOCI

extension StrataCommand {
    /// `strata images`: the tagged images of the store.
    struct Images: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "images", abstract: "List the store's tagged images (as `strata image ls`).")

        @OptionGroup var options: StoreOptions
        @Flag(name: .long, help: "Print a JSON array instead of a table.") var json = false
        @Flag(name: .shortAndLong, help: "Print only image ids.") var quiet = false

        func run() throws {
            try ImageCommand.List.list(try options.engine(), json: json, quiet: quiet)
        }
    }

    /// `strata image …`: tag, inspect, remove, export and import images.
    struct ImageCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "image",
            abstract: "Manage the store's images.",
            discussion: """
            IMAGE is NAME[:TAG] (TAG defaults to latest) or the start of an image id.

              strata image export greeting:1 --format docker-archive -o greeting.tar
              podman load -i greeting.tar
              strata image import greeting.tar --tag greeting:copy
            """,
            subcommands: [List.self, Remove.self, Tag.self, Inspect.self, Export.self, Import.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the store's tagged images.")
            @OptionGroup var options: StoreOptions
            @Flag(name: .long, help: "Print a JSON array instead of a table.") var json = false
            @Flag(name: .shortAndLong, help: "Print only image ids.") var quiet = false

            func run() throws { try Self.list(try options.engine(), json: json, quiet: quiet) }

            static func list(_ engine: Engine, json: Bool, quiet: Bool) throws {
                let images = try engine.images()
                if json {
                    let values: [JSONValue] = images.map {
                        .object([
                            "reference": .string($0.reference), "id": .string($0.manifest.description),
                            "created": $0.created.map(JSONValue.string) ?? .null, "size": .int($0.size), "layers": .int(Int64($0.layers)),
                        ])
                    }
                    print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
                    return
                }
                if quiet {
                    for image in images { print(image.manifest.short) }
                    return
                }
                var rows = [["REFERENCE", "IMAGE ID", "CREATED", "SIZE", "LAYERS"]]
                for image in images {
                    rows.append([image.reference, image.manifest.short, image.created ?? "-", Listing.humanSize(image.size), String(image.layers)])
                }
                Listing.printTable(rows)
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "rm",
                abstract: "Remove image tags; the image's blobs stay while anything else uses them.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The images.") var images: [String]

            func run() throws {
                let engine = try options.engine()
                var failed = false
                for image in images {
                    do { print("untagged " + (try engine.removeImage(image))) } catch {
                        FileHandleStderr.write("strata: \(error.description)\n")
                        failed = true
                    }
                }
                if failed { throw ExitCode(1) }
            }
        }

        struct Tag: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "tag", abstract: "Give an image another tag.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The image.") var source: String
            @Argument(help: "The new tag, NAME[:TAG].") var target: String

            func run() throws {
                let reference: ImageReference
                do { reference = try ImageReference(parsing: target) } catch { throw StrataError.usage(error.description) }
                try options.engine().tagImage(source, as: reference)
            }
        }

        struct Inspect: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Print images' ids, tags, config and layers as JSON.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The images.") var images: [String]

            func run() throws {
                let engine = try options.engine()
                var values: [JSONValue] = []
                for image in images { values.append(try engine.inspectImage(image)) }
                print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
            }
        }

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "export",
                abstract: "Write an image to a tar: an OCI layout (oci) or the docker save format (docker-archive).",
                discussion: """
                An oci archive's layers are compressed (--compression, gzip by default); a docker-archive
                holds uncompressed layer tars as `docker save` does. The file appears only when complete.
                """)
            @OptionGroup var options: StoreOptions
            @Option(name: .long, help: "oci or docker-archive.") var format: String = "oci"
            @Option(name: .shortAndLong, help: "The file to write.") var output: String
            @Option(name: .long, help: ArgumentHelp("Layer compression of an oci archive: gzip, zstd or none.", valueName: "KIND"))
            var compression: String = ImageCompression.gzip.rawValue
            @Argument(help: "The image.") var image: String

            func run() throws {
                guard let format = ImageArchiveFormat(rawValue: format) else {
                    throw StrataError.usage("--format \(self.format) is not one of oci, docker-archive")
                }
                guard let compression = ImageCompression(rawValue: compression) else {
                    throw StrataError.usage("--compression \(self.compression) is not one of gzip, zstd, none")
                }
                let path = output.hasPrefix("/") ? output : EnvironmentPaths.currentDirectory() + "/" + output
                try options.engine().exportImage(image, format: format, to: path, compression: compression)
            }
        }

        struct Import: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "import",
                abstract: "Store the images of an archive (OCI or docker-archive, as podman save, skopeo copy or docker save write).",
                discussion: "Every blob is verified before anything is stored or tagged. Prints the tags set.")
            @OptionGroup var options: StoreOptions
            @Option(name: .long, help: ArgumentHelp("Tag the (single) image so, instead of the archive's names.", valueName: "NAME[:TAG]"))
            var tag: String?
            @Argument(help: "The archive.") var file: String

            func run() throws {
                var reference: ImageReference?
                if let tag {
                    do { reference = try ImageReference(parsing: tag) } catch { throw StrataError.usage(error.description) }
                }
                let path = file.hasPrefix("/") ? file : EnvironmentPaths.currentDirectory() + "/" + file
                for name in try options.engine().importImage(path, tag: reference) { print(name) }
            }
        }
    }
}

import ArgumentParser
import Glibc
import Strata
import StrataImages
import StrataJSON
import StrataModel

extension StrataCommand {
    /// `strata images`: the tagged images of the store.
    struct Images: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "images", abstract: "List the store's tagged images (as `strata image ls`).")

        @OptionGroup var options: ImageCommand.List.Arguments

        func run() throws { try ImageCommand.List.list(options) }
    }

    /// `strata image …`: list, tag, inspect, remove, save, load and import images.
    struct ImageCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "image",
            abstract: "Manage the store's images.",
            discussion: """
            IMAGE is NAME[:TAG] (TAG defaults to latest) or the start of an image id.

              strata image save greeting:1 --format docker-archive -o greeting.tar
              podman load -i greeting.tar
              strata image load greeting.tar --tag greeting:copy
              strata image import rootfs.tar.gz --tag base:1
            """,
            subcommands: [List.self, Remove.self, Tag.self, Inspect.self, Save.self, Load.self, Import.self, ExportAlias.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the store's tagged images.")

            struct Arguments: ParsableArguments {
                @OptionGroup var store: StoreOptions
                @Flag(name: .long, help: "Print a JSON array instead of a table.") var json = false
                @Flag(name: .shortAndLong, help: "Print only image ids.") var quiet = false
            }

            @OptionGroup var options: Arguments

            func run() throws { try Self.list(options) }

            static func list(_ options: Arguments) throws {
                let images = try options.store.engine().images.list()
                if options.json {
                    let values: [JSONValue] = images.map {
                        .object([
                            "reference": .string($0.reference), "id": .string($0.manifest.description),
                            "created": $0.created.map(JSONValue.string) ?? .null, "size": .int($0.size), "layers": .int(Int64($0.layers)),
                        ])
                    }
                    print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
                    return
                }
                if options.quiet {
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

            func validate() throws {
                if images.isEmpty { throw ValidationError("name at least one image to remove (`strata images` lists them)") }
            }

            func run() throws {
                let store = try options.engine().images
                var failed = false
                for image in images {
                    do { print("untagged " + (try store.untag(image))) } catch {
                        StandardError.write("strata: \(error.description)\n")
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
                let reference = try ImageName.parse(target)
                try options.engine().images.tag(source, as: reference)
            }
        }

        struct Inspect: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Print images' ids, tags, config and layers as JSON.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The images.") var images: [String]

            func validate() throws {
                if images.isEmpty { throw ValidationError("name at least one image to inspect (`strata images` lists them)") }
            }

            func run() throws {
                let store = try options.engine().images
                var values: [JSONValue] = []
                for image in images { values.append(try store.inspect(image)) }
                print(String(decoding: JSON.canonicalBytes(.array(values)), as: UTF8.self), terminator: "")
            }
        }
    }
}

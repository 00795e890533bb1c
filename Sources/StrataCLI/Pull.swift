import ArgumentParser
import Strata
import StrataModel

extension StrataCommand {
    /// `strata pull REF`: an image from a registry into the store (`docker pull`).
    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pull",
            abstract: "Store an image from a registry, as docker pull does.",
            discussion: """
            REF is written as for docker pull: [HOST[:PORT]/]REPO[:TAG]. No host means Docker Hub, and a one-part name there is an official image (debian:bookworm is docker.io/library/debian:bookworm). For an index, the image for this machine's platform is pulled. Every blob is verified against its digest and size; nothing is stored or tagged unless the whole image arrived. Registries on this machine, and hosts in STRATA_INSECURE_REGISTRIES, are spoken to over plain HTTP; all others over HTTPS. This version pulls from registries that need no login. Prints the tag and the digest the reference resolved to.

              strata pull localhost:5000/team/tools:1
            """)

        @OptionGroup var options: StoreOptions
        @Argument(help: "The image: [HOST[:PORT]/]REPO[:TAG].") var reference: String

        func run() throws {
            let parsed: RegistryReference
            do { parsed = try RegistryReference(parsing: reference) } catch { throw ValidationError(error.description) }
            let engine = try options.engine()
            let pulled = try engine.images.pull(parsed)
            print("\(pulled.tag) \(pulled.digest)")
        }
    }
}

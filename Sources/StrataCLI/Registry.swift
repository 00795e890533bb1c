import ArgumentParser
import Glibc
import Strata
import StrataEnvironment
import StrataImages
import StrataModel

/// How a command that speaks to a registry trusts it: skopeo's and podman's options.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("tls-verify"), help: ArgumentHelp("Require verified HTTPS (true), or verify nothing and allow plain HTTP (false). Default: verified HTTPS, except for this machine and STRATA_INSECURE_REGISTRIES.", valueName: "BOOL"))
    var tlsVerify: Bool?

    @Option(name: .customLong("cert-dir"), help: ArgumentHelp("CA certificates (*.crt) and a client certificate (*.cert, *.key) for the registry, in place of /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST.", valueName: "DIR"))
    var certDirectory: String?

    func access(_ engine: Engine) -> RegistryAccess { access(engine.context) }

    func access(_ context: RequestContext) -> RegistryAccess {
        RegistryAccess(context: context, tlsVerify: tlsVerify, certDirectory: certDirectory)
    }
}

func registryReference(_ text: String) throws -> RegistryReference {
    do { return try RegistryReference(parsing: text) } catch { throw ValidationError(error.description) }
}

extension StrataCommand {
    /// `strata pull REF`: an image from a registry into the store (`docker pull`).
    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pull",
            abstract: "Store an image from a registry, as docker pull does.",
            discussion: """
            REF is written as for docker pull: [HOST[:PORT]/]REPO[:TAG|@sha256:DIGEST]. No host means Docker Hub, and a one-part name there is an official image (debian:bookworm is docker.io/library/debian:bookworm); Docker Hub names try STRATA_REGISTRY_MIRRORS first. For an index, the image for this machine's platform is pulled. Every blob is verified against its digest and size while it arrives, a transfer cut off resumes, and nothing is stored or tagged unless the whole image arrived. Credentials come from where docker login and podman login keep them. Prints the name it is stored as and the digest the reference resolved to.

              strata pull localhost:5000/team/tools:1
            """)

        @OptionGroup var options: StoreOptions
        @OptionGroup var registry: RegistryOptions
        @Argument(help: "The image: [HOST[:PORT]/]REPO[:TAG|@DIGEST].") var reference: String

        func run() throws {
            let parsed = try registryReference(reference)
            let engine = try options.engine()
            let pulled = try engine.images.pull(parsed, access: registry.access(engine))
            let had = pulled.manifest.layers.count + 1 - pulled.downloaded
            engine.context.note("pulled from \(pulled.source): \(pulled.downloaded) blobs downloaded (\(Listing.humanSize(pulled.downloadedBytes))), \(max(had, 0)) already in the store")
            print("\(pulled.name) \(pulled.digest)")
        }
    }

    /// `strata push IMAGE [REF]`: a stored image to a registry (`docker push`, `podman push`).
    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Send an image of the store to a registry, as docker push does.",
            discussion: """
            IMAGE is a stored image's NAME[:TAG] or id. Without REF it goes where its name says (localhost:5000/team/app:1 goes to localhost:5000, as docker push sends it); with REF, there ([HOST[:PORT]/]REPO[:TAG]). Blobs the repository has are skipped, blobs another repository of the registry has are mounted, the rest uploaded, a few at a time; the manifest goes last, so the tag never names an incomplete image. Prints the reference and the digest pushed.

              strata push app:1 localhost:5000/team/app:1
            """)

        @OptionGroup var options: StoreOptions
        @OptionGroup var registry: RegistryOptions
        @Argument(help: "The stored image: NAME[:TAG] or id.") var image: String
        @Argument(help: "Where to: [HOST[:PORT]/]REPO[:TAG].") var destination: String?

        func run() throws {
            let target = try registryReference(destination ?? image)
            let engine = try options.engine()
            // Blobs above this go in PATCH chunks (tests use it; registries are fastest with one PUT).
            let chunk = Int64(engine.context.variables["STRATA_UPLOAD_CHUNK_SIZE"] ?? "") ?? 0
            let pushed = try engine.images.push(image, to: target, access: registry.access(engine), chunkSize: chunk)
            let report = pushed.report
            engine.context.note("\(report.uploaded) blobs uploaded, \(report.mounted) mounted, \(report.present) already there")
            print("\(pushed.reference) \(pushed.digest)")
        }
    }

    /// `strata login [HOST]`: credentials for a registry, checked and kept (`docker login`).
    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "login",
            abstract: "Log in to a registry, as docker login does.",
            discussion: """
            The credentials are checked against the registry, then kept where docker login and podman login keep them: the file that already names the registry, else $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json (~/.docker/config.json); through the credential helper that file names (credHelpers, credsStore), if any. HOST defaults to Docker Hub.

              echo "$TOKEN" | strata login --username ci --password-stdin registry.example.com
            """)

        @OptionGroup var registry: RegistryOptions
        @Option(name: .shortAndLong, help: "The user name.") var username: String?
        @Option(name: .shortAndLong, help: "The password (visible to other users of this machine; prefer --password-stdin).") var password: String?
        @Flag(name: .customLong("password-stdin"), help: "Read the password from stdin.") var passwordStdin = false
        @Argument(help: "The registry: HOST[:PORT].") var host: String?

        func run() throws {
            let target = try RegistryLogin.registry(host)
            if passwordStdin && password != nil { throw ValidationError("--password and --password-stdin both give the password; give one") }
            guard let username = try username ?? prompt("Username: ", echo: true), !username.isEmpty else {
                throw ValidationError("no user name: give --username")
            }
            let secret: String
            if passwordStdin {
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = read(0, &buffer, buffer.count)
                    if n < 0, errno == EINTR { continue }
                    if n <= 0 { break }
                    bytes += buffer[0..<n]
                }
                while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
                secret = String(decoding: bytes, as: UTF8.self)
            } else if let password {
                secret = password
            } else {
                guard let typed = try prompt("Password: ", echo: false) else { throw ValidationError("no password: give --password-stdin") }
                secret = typed
            }
            guard !secret.isEmpty else { throw ValidationError("the password is empty") }
            // No store: logging in touches only the credentials files.
            let context = ProcessState.context(variables: ProcessState.variables())
            let place = try RegistryLogin(context: context).login(target, username: username, password: secret, access: registry.access(context))
            context.note("credentials kept in \(place)")
            print("Login Succeeded")
        }

        /// A line from the terminal (without echo for a password); nil when stdin is not one.
        func prompt(_ text: String, echo: Bool) throws -> String? {
            guard isatty(0) == 1 else { return nil }
            _ = text.withCString { write(2, $0, strlen($0)) }
            var saved = termios()
            let hidden = !echo && tcgetattr(0, &saved) == 0
            if hidden {
                var quiet = saved
                quiet.c_lflag &= ~tcflag_t(ECHO)
                tcsetattr(0, TCSANOW, &quiet)
            }
            defer { if hidden { tcsetattr(0, TCSANOW, &saved); _ = write(2, "\n", 1) } }
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while read(0, &byte, 1) == 1, byte != 0x0A { line.append(byte) }
            return String(decoding: line, as: UTF8.self)
        }
    }

    /// `strata logout [HOST]`: forgets a registry's credentials (`docker logout`).
    struct Logout: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "logout",
            abstract: "Forget a registry's credentials, as docker logout does.",
            discussion: "Removes HOST (default Docker Hub) from every credentials file that names it, and from the credential helper they name.")

        @Argument(help: "The registry: HOST[:PORT].") var host: String?

        func run() throws {
            let target = try RegistryLogin.registry(host)
            let context = ProcessState.context(variables: ProcessState.variables())
            let removed = try RegistryLogin(context: context).logout(target)
            if removed.isEmpty {
                context.note("not logged in to \(target.host)")
            } else {
                print("Removing login credentials for \(target.host)")
            }
        }
    }
}

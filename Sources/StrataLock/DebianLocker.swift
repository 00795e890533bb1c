import Glibc
import StrataOS
import StrataArchive
import StrataDebian
import StrataFetchClient
import StrataModel
import StrataEnvironment
import StrataStore

/// Resolves a manifest's Debian base against a signed archive into a `LockedDebian`.
///
/// Every byte read from a mirror is checked before it is used: `InRelease` by its
/// signature, each `Packages` index by the sha256 the signed release gives. Indexes
/// are kept in the store by that digest, so locking again against an unchanged
/// archive downloads only `InRelease`.
struct DebianLocker {
    let store: Store
    let environment: LoadedEnvironment
    let source: Manifest.DebianSource
    let context: RequestContext
    let mirrors: @Sendable () -> [String]

    /// Caps on what a mirror may send before it is checked.
    static let inReleaseLimit: Int64 = 32 << 20
    static let indexLimit: Int64 = 1 << 30

    var architecture: String { source.architecture ?? Platform.current.architecture }
    var components: [String] { source.components ?? ["main"] }
    var variant: Manifest.DebianSource.Variant { source.variant ?? .minbase }

    /// What to keep from a previous lock when re-resolving (`lock --update PKG…`).
    struct Pins {
        /// Locked packages (name → version) to keep where the archive still has them.
        var keep: [String: String] = [:]
    }

    /// A kept version the new resolution could not keep, and why: said to the user, never silent.
    struct DroppedPin: Equatable {
        enum Reason: Equatable {
            /// The archive no longer has that version.
            case goneFromArchive
            /// The packages being updated need another version.
            case conflictsWithUpdate
        }
        var name: String
        var version: String
        var reason: Reason
        /// The version it moves to; nil when the package left the environment.
        var now: String?

        var sentence: String {
            let why = reason == .goneFromArchive ? "the archive no longer has it" : "the updated packages need another version"
            let outcome = now.map { "it moves to \($0)" } ?? "it is no longer needed"
            return "could not keep \(name) \(version) (\(why)); \(outcome)"
        }
    }

    /// Whether `locked` was resolved from the same Debian inputs this manifest names, so
    /// that it still holds without asking the archive.
    func stillMatches(_ locked: LockedDebian) -> Bool {
        locked.suite == source.suite && locked.architecture == architecture && locked.components == components
            && locked.variant == variant.rawValue && locked.requested == environment.manifest.packages
            && locked.recommends == (environment.manifest.recommends ?? false)
    }

    /// Resolves the manifest's packages, keeping `pins` where they still resolve; returns
    /// the pins it could not keep with the versions they move to.
    func lock(pins: Pins = Pins()) throws(StrataError) -> (LockedDebian, dropped: [DroppedPin]) {
        let archive = try openArchive()
        let resolver = Resolver(index: archive.index, architecture: architecture)
        var requests: [PackageRequest] = []
        for text in environment.manifest.packages {
            do { requests.append(try PackageRequest(parsing: text)) } catch { throw .resolve(error) }
        }
        let options = ResolverOptions(recommends: environment.manifest.recommends ?? false)
        let base = BaseVariant(rawValue: variant.rawValue) ?? .minbase
        var resolution: Resolution
        let requested = Set(requests.map(\.name))
        let pinned = pins.keep.filter { name, version in
            !requested.contains(name) && archive.index.records(named: name).contains { $0.version == version }
        }
        if pinned.isEmpty {
            do { resolution = try resolver.resolve(requests, base: base, options: options) } catch { throw .resolve(error) }
        } else {
            // Kept versions first; if the updated packages need newer ones, let those move too.
            let withPins = requests + pinned.keys.sorted().map { PackageRequest(name: $0, version: pinned[$0]) }
            do { resolution = try resolver.resolve(withPins, base: base, options: options) } catch {
                do { resolution = try resolver.resolve(requests, base: base, options: options) } catch { throw .resolve(error) }
            }
            // A pin must not drag in a package nothing needs any more. Without the pins the
            // packages always resolved above (or the lock failed), so a failure here only
            // means there is nothing to trim.
            if let unpinned = try? resolver.resolve(requests, base: base, options: options) {
                let needed = Set(unpinned.packages.map(\.name))
                if resolution.packages.contains(where: { !needed.contains($0.name) }) {
                    let trimmed = requests + pinned.keys.sorted().filter(needed.contains).map { PackageRequest(name: $0, version: pinned[$0]) }
                    if let better = try? resolver.resolve(trimmed, base: base, options: options) { resolution = better }
                }
            }
        }
        let chosen = Dictionary(resolution.packages.map { ($0.name, $0.version) }, uniquingKeysWith: { first, _ in first })
        var dropped: [DroppedPin] = []
        for (name, version) in pins.keep.sorted(by: { $0.key < $1.key }) where !requested.contains(name) {
            let now = chosen[name]
            if pinned[name] == nil {
                dropped.append(DroppedPin(name: name, version: version, reason: .goneFromArchive, now: now))
            } else if let now, now != version {
                dropped.append(DroppedPin(name: name, version: version, reason: .conflictsWithUpdate, now: now))
            }
        }
        let packages = resolution.installOrder().map {
            LockedPackage(name: $0.name, version: $0.version, architecture: $0.architecture,
                          path: $0.filename, size: Int64($0.size), sha256: $0.sha256)
        }
        let release = archive.release.release
        let locked = LockedDebian(
            suite: source.suite, codename: release.codename ?? source.suite, architecture: architecture,
            components: components, variant: variant.rawValue, requested: environment.manifest.packages,
            recommends: environment.manifest.recommends ?? false, inRelease: archive.release.inReleaseDigest,
            date: release.date ?? "", indexes: archive.indexes, packages: packages)
        return (locked, dropped)
    }

    struct OpenedArchive {
        var release: VerifiedRelease
        var indexes: [LockedIndex]
        var index: PackageIndex
    }

    /// Fetches and verifies `InRelease`, then every component's `Packages` index.
    func openArchive() throws(StrataError) -> OpenedArchive {
        let fetcher = FetchClient(mirrors: mirrors(), tool: context.fetchTool ?? FetchClient.toolBesideThisExecutable())
        let inRelease = store.temporaryPath("InRelease")
        defer { unlink(inRelease) }
        do {
            _ = try fetcher.fetch(FetchJob(path: "dists/\(source.suite)/InRelease", destination: inRelease,
                                           limit: Self.inReleaseLimit))
        } catch { throw .fetch(error) }
        let keyring = source.keyring.map(environment.paths.resolve) ?? ReleaseVerifier.debianArchiveKeyring
        let verified: VerifiedRelease
        do { verified = try ReleaseVerifier(keyrings: [keyring]).verify(inReleaseAt: inRelease) } catch {
            throw .release(suite: source.suite, error)
        }
        let release = verified.release
        guard release.suite == source.suite || release.codename == source.suite else {
            throw .debianArchive(path: "dists/\(source.suite)/InRelease",
                                 reason: "it is signed for suite \(release.suite ?? "?") (\(release.codename ?? "?")), not \(source.suite); check the mirror")
        }
        if !release.architectures.isEmpty, !release.architectures.contains(architecture) {
            throw .debianArchive(path: "dists/\(source.suite)/InRelease",
                                 reason: "the archive has no \(architecture) packages (it has \(release.architectures.joined(separator: ", ")))")
        }
        var records: [PackageRecord] = []
        var indexes: [LockedIndex] = []
        for component in components {
            if !release.components.isEmpty, !release.components.contains(component) {
                throw .debianArchive(path: "dists/\(source.suite)/InRelease",
                                     reason: "the suite has no component \"\(component)\" (it has \(release.components.joined(separator: ", ")))")
            }
            let base = "\(component)/binary-\(architecture)/Packages"
            guard let entry = [".xz", ".gz", ""].lazy.compactMap({ release.entry(for: base + $0) }).first else {
                throw .debianArchive(path: "dists/\(source.suite)/InRelease", reason: "it lists no \(base) index")
            }
            let pinned = LockedIndex(path: entry.path, sha256: entry.sha256, size: Int64(entry.size))
            let file = try indexFile(pinned, fetcher: fetcher, byHash: release.acquireByHash)
            let bytes: [UInt8]
            do { bytes = try HostFile.read(file, limit: Int(Self.indexLimit)) } catch {
                throw .input(path: file, reason: "cannot read the cached index: \(error.reason)")
            }
            do { records += try PackageIndex(parsing: bytes).records } catch {
                throw .debianArchive(path: entry.path, reason: "the index does not parse: \(error)")
            }
            indexes.append(pinned)
        }
        return OpenedArchive(release: verified, indexes: indexes, index: PackageIndex(records: records))
    }

    /// The decompressed index, from the store's cache or fetched (by hash where the
    /// archive offers it), verified against `InRelease` and cached by its digest.
    func indexFile(_ index: LockedIndex, fetcher: FetchClient, byHash: Bool) throws(StrataError) -> String {
        if let cached = store.cachedFile(.debianIndexes, index.sha256.hex) { return cached }
        if !store.hasBlob(index.sha256) {
            let directory = "dists/\(source.suite)/" + index.path[..<index.path.lastIndex(of: "/")!]
            var paths = ["dists/\(source.suite)/\(index.path)"]
            // by-hash names never change under a reader, unlike the plain name during a mirror update.
            if byHash { paths.insert("\(directory)/by-hash/SHA256/\(index.sha256.hex)", at: 0) }
            var failure: FetchFailure?
            for path in paths {
                let temporary = store.temporaryPath("index")
                do {
                    _ = try fetcher.fetch(FetchJob(path: path, destination: temporary, digest: index.sha256,
                                                   size: index.size, limit: Self.indexLimit))
                } catch {
                    failure = failure ?? error
                    continue
                }
                do { try store.publishBlob(temporaryFile: temporary, expected: index.sha256) } catch { throw .store(error) }
                failure = nil
                break
            }
            if let failure { throw .fetch(failure) }
        }
        let temporary = store.temporaryPath("index-plain")
        do { _ = try Decompressor.decompress(fileAt: store.blobPath(index.sha256), to: temporary, maxBytes: Self.indexLimit) } catch {
            throw .archive(path: index.path, error)
        }
        do { return try store.publishCachedFile(.debianIndexes, index.sha256.hex, temporaryFile: temporary) } catch {
            throw .store(error)
        }
    }
}

import Dispatch
import Glibc
import Synchronization
import StrataDebian
import StrataEnvironment
import StrataFetchClient
import StrataModel
import StrataSandbox
import StrataStore

extension Builder {
    /// Brings every layer of a Debian base into the store: the merged-/usr skeleton,
    /// one layer per `.deb` (downloaded in parallel and verified first), the dpkg
    /// status, and the result of the maintainer scripts. Layers already there are not
    /// touched, so environments that share packages share their layers.
    func buildDebian(_ debian: LockedDebian, environment: LoadedEnvironment) throws(StrataError) -> (unpacked: Int, warnings: [String]) {
        var unpacked = 0
        var warnings: [String] = []
        do {
            if try store.publishLayer(key: LayerKeys.debianSkeleton, fill: { (directory) throws(StoreError) -> [String] in
                do { try MergedUsr.skeleton(into: directory) } catch {
                    throw .io(path: directory, reason: "cannot create the merged-/usr skeleton: \(error)")
                }
                return []
            }).unpacked { unpacked += 1 }
        } catch { throw .store(error) }

        let statusMissing = !store.hasLayer(debian.statusKey)
        // The status is made from each .deb's control data, so it needs every .deb.
        let needed = debian.packages.filter {
            !store.hasBlob($0.sha256) && (statusMissing || !store.hasLayer(LayerKeys.debianPackage($0.sha256)))
        }
        let total = environment.manifest.steps.count
        if !needed.isEmpty {
            let bytes = needed.reduce(Int64(0)) { $0 + $1.size }
            try phase("debian: download \(needed.count) package\(needed.count == 1 ? "" : "s") (\(Self.megabytes(bytes)))", total: total) {
                () throws(StrataError) in try download(needed, environment: environment, debian: debian)
            }
        }

        try context.cancellation.check()
        let missing = debian.packages.filter { !store.hasLayer(LayerKeys.debianPackage($0.sha256)) }
        var count = 0, packageWarnings: [String] = []
        if !missing.isEmpty {
            try phase("debian: unpack \(missing.count) package\(missing.count == 1 ? "" : "s")", total: total) { () throws(StrataError) in
                (count, packageWarnings) = try unpackPackages(missing)
            }
        }
        unpacked += count
        warnings += packageWarnings

        if statusMissing {
            var entries: [DpkgStatusEntry] = []
            for package in debian.packages {
                do {
                    entries.append(try DebLayer.statusEntry(deb: store.blobPath(package.sha256),
                                                            layer: store.layerPath(LayerKeys.debianPackage(package.sha256))))
                } catch {
                    throw .debianArchive(path: "\(package.name) \(package.version)", reason: "cannot read its control data: \(error)")
                }
            }
            let epoch = try Self.sourceDateEpoch(debian, context: context)
            // `extract` runs no scripts: what is unpacked is all there is, as mmdebstrap's variant.
            let status = DpkgStatus.render(entries, status: debian.variant == "extract" ? "install ok installed" : "install ok unpacked")
            do {
                try store.publishLayer(key: debian.statusKey) { (directory) throws(StoreError) -> [String] in
                    try Self.writeDpkgDatabase(status: status, into: directory)
                    // Written now, but the same for every build of these packages: no mtime newer than the release.
                    try LayerNormalizer(root: directory, epoch: epoch).normalize(removing: [])
                    return []
                }
            } catch { throw .store(error) }
            unpacked += 1
        }

        if !store.hasLayer(debian.configuredKey) {
            try context.cancellation.check()
            try phase("debian: configure \(debian.packages.count) packages", total: total) { () throws(StrataError) in
                try configure(debian, environment: environment)
            }
            unpacked += 1
        }
        return (unpacked, warnings)
    }

    /// Runs one part of building the base, reported as the build's step 0 (`[base] …`).
    func phase(_ summary: String, total: Int, _ body: () throws(StrataError) -> Void) throws(StrataError) {
        let name = BuildStepName(number: 0, total: total, summary: summary)
        context.events(.started(name))
        let began = Self.monotonicSeconds()
        do { try body() } catch {
            context.events(.failed(name, status: 1))
            throw error
        }
        context.events(.done(name, seconds: Self.monotonicSeconds() - began))
    }

    /// "12.3 MB"
    static func megabytes(_ bytes: Int64) -> String {
        let tenths = (bytes * 10 + 500_000) / 1_000_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    /// Unpacks each package into its layer, as many at once as there are CPUs: xz
    /// decompression is the bulk of the work and each `.deb` is independent.
    func unpackPackages(_ packages: [LockedPackage]) throws(StrataError) -> (Int, [String]) {
        struct Outcome: Sendable {
            var unpacked = 0
            var warnings: [(Int, [String])] = []
            var failure: (Int, StoreError)?
        }
        let results = Mutex(Outcome())
        let store = self.store
        let cancellation = context.cancellation
        DispatchQueue.concurrentPerform(iterations: packages.count) { index in
            if cancellation.isCancelled || results.withLock({ $0.failure != nil }) { return }
            let package = packages[index]
            let deb = store.blobPath(package.sha256)
            let scratch = store.temporaryPath("data")
            do throws(StoreError) {
                let outcome = try store.publishLayer(key: LayerKeys.debianPackage(package.sha256)) {
                    (directory) throws(StoreError) -> [String] in
                    defer { unlink(scratch) }
                    do { return try DebLayer.unpack(deb: deb, into: directory, dataCopy: scratch).warnings } catch {
                        throw .io(path: "\(package.name) \(package.version) (\(package.sha256.short))", reason: "\(error)")
                    }
                }
                let named = outcome.warnings.map { "\(package.name): \($0)" }
                results.withLock {
                    if outcome.unpacked { $0.unpacked += 1 }
                    $0.warnings.append((index, named))
                }
            } catch {
                results.withLock { if $0.failure == nil || $0.failure!.0 > index { $0.failure = (index, error) } }
            }
        }
        let outcome = results.withLock { $0 }
        if let failure = outcome.failure { throw .store(failure.1) }
        try context.cancellation.check()
        return (outcome.unpacked, outcome.warnings.sorted { $0.0 < $1.0 }.flatMap(\.1))
    }

    /// Downloads `packages` from the mirrors into the store, all or nothing.
    func download(_ packages: [LockedPackage], environment: LoadedEnvironment, debian: LockedDebian) throws(StrataError) {
        guard !packages.isEmpty else { return }
        guard case .debian(let source) = environment.manifest.base else {
            throw .staleLock(lockfile: environment.paths.lockfile, reason: "it pins Debian packages but the manifest has no Debian base")
        }
        let fetcher = FetchClient(mirrors: DebianMirrors.list(source, override: mirrors, context: context), tool: context.fetchTool ?? FetchClient.toolBesideThisExecutable(),
                                  progress: context.progress)
        let downloads = packages.map {
            FetchJob(path: $0.path, destination: store.temporaryPath("deb-" + $0.sha256.short), digest: $0.sha256,
                     size: $0.size, limit: $0.size)
        }
        do { _ = try fetcher.fetchAll(downloads, progress: true) } catch { throw .fetch(error) }
        var failure: StoreError?
        for (download, package) in zip(downloads, packages) {
            if failure == nil {
                do { try store.publishBlob(temporaryFile: download.destination, expected: package.sha256) } catch { failure = error }
            } else {
                unlink(download.destination)
            }
        }
        if let failure { throw .store(failure) }
    }

    /// The dpkg database around the status file: the directories dpkg expects and empty
    /// `available`, `diversions` and `statoverride`.
    static func writeDpkgDatabase(status: [UInt8], into directory: String) throws(StoreError) {
        let admin = directory + "/var/lib/dpkg"
        for sub in ["/var", "/var/lib", "/var/lib/dpkg", "/var/lib/dpkg/info", "/var/lib/dpkg/updates",
                    "/var/lib/dpkg/triggers", "/var/lib/dpkg/alternatives"] {
            try Store.createLayerDirectory(directory + sub)
        }
        try Store.createLayerFile(admin + "/status", contents: status)
        for name in ["available", "diversions", "statoverride"] { try Store.createLayerFile(admin + "/" + name, contents: []) }
    }
}

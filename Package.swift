// swift-tools-version: 6.0
// The targets follow strata's data flow (DESIGN.md): JSON → model (manifest,
// lockfile) → archive (unpack/pack layers) → store → OCI sources → sandbox →
// engine → CLI. C libraries come in through systemLibrary targets.
import PackageDescription

let package = Package(
    name: "strata",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "strata", targets: ["StrataCLI"]),
        .executable(name: "strata-fetch", targets: ["StrataFetchTool"]),
        .executable(name: "strata-serve", targets: ["StrataServeTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Already under AsyncHTTPClient; named for the TLS trust and HTTP method types of registry requests.
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
    ],
    targets: [
        // No pkgConfig and no `link` in the module map: StrataArchive chooses the linkage.
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev", "libzstd-dev", "liblz4-dev", "liblzma-dev", "libbz2-dev", "zlib1g-dev"])]),
        // No `link` in the module map: StrataJSON chooses the linkage.
        .systemLibrary(name: "CJSON", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CLinux"),
        // No `link` in the module map: StrataSeccomp chooses the linkage (as StrataArchive does).
        .systemLibrary(name: "CSeccomp", providers: [.apt(["libseccomp-dev"])]),
        // The only code that runs between clone(2) and execve(2): C, async-signal-safe.
        .target(name: "CSandbox"),

        // OS plumbing every other module calls: descriptor-anchored file operations, atomic
        // writes, directory listings, removing trees, running programs, errno as text.
        .target(name: "StrataOS", dependencies: ["CLinux"]),

        .target(
            name: "StrataJSON", dependencies: ["CJSON"],
            linkerSettings: [
                // Static in release, as libarchive: one shared library fewer to find and
                // relocate on every `strata run` (its rpath search alone is ~20 failed opens).
                .linkedLibrary("json-c", .when(configuration: .debug)),
                .linkedLibrary(":libjson-c.a", .when(configuration: .release)),
            ]),
        .target(name: "StrataModel", dependencies: [
            "StrataJSON", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(
            name: "StrataArchive", dependencies: ["CArchive", "CLinux", "StrataOS", "StrataModel"],
            linkerSettings: [
                // Release (what users run) links libarchive statically: the shared library
                // loads libxml2, ICU and nettle, whose relocation costs ~1.6 ms on every
                // `strata run`. Only the tar reader/writer and five decompressors are used,
                // and release links drop the rest (--gc-sections); debug links keep every
                // pulled object, whose xar/crypto parts need those libraries, so tests link
                // the shared libarchive of the same package.
                .linkedLibrary("archive", .when(configuration: .debug)),
                .linkedLibrary(":libarchive.a", .when(configuration: .release)),
                .linkedLibrary(":libzstd.a", .when(configuration: .release)),
                .linkedLibrary(":liblz4.a", .when(configuration: .release)),
                .linkedLibrary(":liblzma.a", .when(configuration: .release)),
                .linkedLibrary(":libbz2.a", .when(configuration: .release)),
                .linkedLibrary(":libz.a", .when(configuration: .release)),
            ]),
        .target(name: "StrataStore", dependencies: ["CLinux", "StrataOS", "StrataModel", "StrataArchive"]),
        // OCI image layouts, image documents, and the `docker save`/OCI archive formats.
        .target(name: "StrataOCI", dependencies: ["StrataOS", "StrataModel", "StrataJSON", "StrataArchive"]),
        // Registries as an image source (issue 13): the distribution protocol's parts.
        .target(name: "StrataRegistry", dependencies: ["StrataModel", "StrataJSON", "StrataOS"]),
        // Debian archives as a layer source (issue 3): versions, relations, indexes.
        .target(name: "StrataDebian", dependencies: [
            "CLinux", "StrataOS", "StrataModel", "StrataArchive", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Downloads over HTTP (Debian mirrors; later registries): verified while streaming.
        .target(name: "StrataFetch", dependencies: [
            "StrataOS", "StrataModel", "StrataJSON", "StrataRegistry", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // How `strata` asks `strata-fetch` (a process of its own, so that the HTTP stack's
        // start-up cost stays out of every `strata run`).
        .target(name: "StrataFetchClient", dependencies: ["StrataOS", "StrataModel", "StrataJSON", "StrataRegistry"]),
        .executableTarget(name: "StrataFetchTool", dependencies: [
            "StrataOS", "StrataFetch", "StrataFetchClient", "StrataJSON", "StrataModel", "StrataRegistry",
        ]),
        .target(name: "StrataSandbox", dependencies: ["CSandbox", "StrataOS"]),
        // Docker-format seccomp profiles compiled to BPF with libseccomp, before clone(2).
        .target(
            name: "StrataSeccomp", dependencies: ["CSeccomp", "StrataOS", "StrataJSON"],
            linkerSettings: [
                .linkedLibrary("seccomp", .when(configuration: .debug)),
                .linkedLibrary(":libseccomp.a", .when(configuration: .release)),
            ]),
        // The engine, split along the data flow. StrataEnvironment is what its parts share:
        // the environment as loaded, the request's context (only entry points read process
        // state), and the engine's error.
        .target(name: "StrataEnvironment", dependencies: [
            "StrataOS", "StrataModel", "StrataArchive", "StrataStore", "StrataOCI", "StrataSandbox", "StrataDebian",
            "StrataFetchClient", "StrataSeccomp", "StrataRegistry",
        ]),
        // Manifest → lockfile: inputs pinned by digest, the Debian locker, lock diffs.
        .target(name: "StrataLock", dependencies: [
            "StrataEnvironment", "StrataOS", "StrataModel", "StrataArchive", "StrataStore", "StrataOCI", "StrataDebian",
            "StrataFetchClient", "StrataImages",
        ]),
        // Sessions: run, exec, enter again, list, diff, remove, volumes; confinement from the manifest.
        .target(name: "StrataSessions", dependencies: [
            "StrataEnvironment", "StrataOS", "StrataModel", "StrataArchive", "StrataStore", "StrataSandbox", "StrataSeccomp",
        ]),
        // Images: tags, commit, save/load, rootfs import, compressed variants, the layer→blob cache.
        .target(name: "StrataImages", dependencies: [
            "StrataEnvironment", "StrataOS", "StrataModel", "StrataJSON", "StrataArchive", "StrataStore", "StrataOCI",
            "StrataFetchClient", "StrataRegistry",
        ]),
        // Lockfile → layers: fetch, verify, unpack, configure Debian bases, layers from commands run in sessions.
        .target(name: "StrataBuild", dependencies: [
            "StrataEnvironment", "StrataSessions", "StrataImages", "StrataOS", "StrataModel", "StrataArchive",
            "StrataStore", "StrataOCI", "StrataDebian", "StrataFetchClient", "StrataSandbox", "CLinux",
        ]),
        // The store over time: its roots, gc, disk usage.
        .target(name: "StrataGC", dependencies: [
            "StrataEnvironment", "StrataOS", "StrataModel", "StrataJSON", "StrataStore", "StrataOCI",
        ]),
        // The façade the CLI (and later the daemon) calls, with a request context.
        .target(name: "Strata", dependencies: [
            "StrataEnvironment", "StrataLock", "StrataBuild", "StrataSessions", "StrataImages", "StrataModel", "StrataStore",
            "StrataGC", "StrataOS",
        ]),
        // `strata serve`: Docker's Engine API over HTTP on a UNIX socket, on the engine, with
        // SwiftNIO (attach and exec take the connection over after the response head).
        .target(name: "StrataServe", dependencies: [
            "Strata", "StrataEnvironment", "StrataLock", "StrataSessions", "StrataImages", "StrataModel", "StrataJSON", "StrataStore",
            "StrataOS", "StrataOCI", "StrataRegistry", "CLinux",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // `strata serve`'s process (the CLI execs it), so that SwiftNIO's start-up stays out
        // of every `strata run`, as the HTTP client's does in strata-fetch.
        .executableTarget(name: "StrataServeTool", dependencies: ["StrataServe", "StrataEnvironment", "StrataOS", "StrataStore"]),
        .executableTarget(name: "StrataCLI", dependencies: [
            "Strata", "StrataEnvironment", "StrataLock", "StrataBuild", "StrataSessions", "StrataImages", "StrataOS",
            "StrataModel", "StrataJSON", "StrataStore", "StrataOCI", "StrataFetchClient", "StrataGC",
            // Only for entering a rootless strata's user namespace, the first thing main does.
            "CSandbox",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "StrataOSTests", dependencies: ["StrataOS"]),
        // Reads Package.swift and the sources: the architecture's rules, checked.
        .testTarget(name: "StrataPackageTests"),
        .testTarget(name: "StrataJSONTests", dependencies: ["StrataJSON"]),
        .testTarget(name: "StrataModelTests", dependencies: ["StrataModel"]),
        .testTarget(name: "StrataDebianTests", dependencies: ["StrataDebian", "StrataArchive", "StrataOS"]),
        .testTarget(name: "StrataFetchTests", dependencies: ["StrataFetch", "StrataModel"]),
        .testTarget(name: "StrataArchiveTests", dependencies: ["StrataArchive", "StrataModel", "CArchive"]),
        // Orders the tests that change the host's cgroup layout against those relying on it.
        .target(name: "StrataHostTestSupport", path: "Tests/StrataHostTestSupport"),
        .testTarget(name: "StrataSandboxTests", dependencies: ["StrataSandbox", "StrataHostTestSupport"]),
        .testTarget(name: "StrataSeccompTests", dependencies: ["StrataSeccomp", "StrataJSON", "StrataModel"]),
        .testTarget(name: "StrataOCITests", dependencies: ["StrataOCI", "StrataOS", "StrataModel", "StrataJSON", "StrataArchive"]),
        .testTarget(name: "StrataRegistryTests", dependencies: ["StrataRegistry", "StrataModel", "StrataOS", "StrataJSON"]),
        .testTarget(name: "StrataStoreTests", dependencies: ["StrataStore", "StrataOS", "StrataModel", "StrataArchive", "CLinux"]),
        // The engine's parts, each tested on a real store through its own API.
        .target(name: "StrataEngineTestSupport", dependencies: ["StrataEnvironment", "StrataOS", "StrataArchive", "StrataStore"],
                path: "Tests/StrataEngineTestSupport"),
        .testTarget(name: "StrataEnvironmentTests", dependencies: ["StrataEnvironment", "StrataModel", "StrataOS", "StrataRegistry"]),
        .testTarget(name: "StrataLockTests", dependencies: ["StrataLock", "StrataEngineTestSupport", "StrataEnvironment", "StrataModel", "StrataOS"]),
        .testTarget(name: "StrataBuildTests", dependencies: [
            "StrataBuild", "StrataLock", "StrataEngineTestSupport", "StrataEnvironment", "StrataModel", "StrataOS", "StrataStore",
            "StrataSessions", "StrataArchive", "CLinux",
        ]),
        .testTarget(name: "StrataSessionsTests", dependencies: [
            "StrataSessions", "StrataBuild", "StrataLock", "StrataEngineTestSupport", "StrataEnvironment", "StrataModel",
            "StrataOS", "StrataStore", "StrataArchive",
        ]),
        .testTarget(name: "StrataImagesTests", dependencies: [
            "StrataImages", "StrataEngineTestSupport", "StrataEnvironment", "StrataModel", "StrataOS", "StrataOCI", "StrataJSON",
        ]),
        .testTarget(name: "StrataGCTests", dependencies: [
            "StrataGC", "StrataBuild", "StrataLock", "StrataSessions", "StrataImages", "StrataEngineTestSupport",
            "StrataEnvironment", "StrataModel", "StrataOS", "StrataStore",
        ]),
        .testTarget(name: "StrataIntegrationTests", dependencies: [
            "StrataCLI", "StrataFetchTool", "StrataServeTool", "StrataModel", "StrataJSON", "StrataHostTestSupport",
        ]),
    ],
    swiftLanguageModes: [.v6]
)

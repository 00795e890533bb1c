import StrataJSON

/// The pinned Debian base of an environment: the signed release it was resolved
/// against and every package, in install order (dependencies first).
///
/// Guarantees: names no mirror (the digests are the identity); the packages list
/// is exactly what the resolver chose, so two equal manifests against the same
/// `InRelease` give equal values.
public struct LockedDebian: Sendable, Equatable {
    public let suite: String
    public let codename: String
    public let architecture: String
    public let components: [String]
    public let variant: String
    /// The manifest's `packages` and `recommends` as they were resolved: while they and
    /// the source stay the same, the packages stay pinned even if the manifest changes.
    public let requested: [String]
    public let recommends: Bool
    /// sha256 of the `InRelease` file whose signature was checked, and its `Date`.
    public let inRelease: Digest
    public let date: String
    public let indexes: [LockedIndex]
    public let packages: [LockedPackage]
    /// `LayerKeys.debianStack` of the packages; computed once, since every `strata run`
    /// needs them (and hashing 130-odd keys each time showed in profiles).
    public let layerKeys: [Digest]

    public init(suite: String, codename: String, architecture: String, components: [String], variant: String,
                requested: [String], recommends: Bool,
                inRelease: Digest, date: String, indexes: [LockedIndex], packages: [LockedPackage]) {
        self.suite = suite; self.codename = codename; self.architecture = architecture; self.components = components
        self.variant = variant; self.requested = requested; self.recommends = recommends; self.inRelease = inRelease; self.date = date; self.indexes = indexes
        self.packages = packages
        self.layerKeys = LayerKeys.debianStack(architecture: architecture, packages: packages)
    }

    /// Equal when what was locked is equal (the keys follow from it).
    public static func == (a: LockedDebian, b: LockedDebian) -> Bool {
        a.suite == b.suite && a.codename == b.codename && a.architecture == b.architecture
            && a.components == b.components && a.variant == b.variant && a.requested == b.requested
            && a.recommends == b.recommends && a.inRelease == b.inRelease && a.date == b.date
            && a.indexes == b.indexes && a.packages == b.packages
    }

    /// The dpkg status layer and the configured layer: the last two of `layerKeys`.
    public var statusKey: Digest { layerKeys[layerKeys.count - 2] }
    public var configuredKey: Digest { layerKeys[layerKeys.count - 1] }
}

/// One index file the resolution read (`main/binary-amd64/Packages.xz`), as `InRelease` pins it.
public struct LockedIndex: Sendable, Equatable {
    public var path: String
    public var sha256: Digest
    public var size: Int64
    public init(path: String, sha256: Digest, size: Int64) { self.path = path; self.sha256 = sha256; self.size = size }
}

/// One `.deb`: what it is, where it lives in any mirror's pool, and its exact bytes.
public struct LockedPackage: Sendable, Equatable {
    public var name: String
    public var version: String
    public var architecture: String
    /// The `Filename` of its index stanza (`pool/main/b/bash/bash_5.2.15-2+b7_amd64.deb`).
    public var path: String
    public var size: Int64
    public var sha256: Digest
    public init(name: String, version: String, architecture: String, path: String, size: Int64, sha256: Digest) {
        self.name = name; self.version = version; self.architecture = architecture
        self.path = path; self.size = size; self.sha256 = sha256
    }
}

extension LockedPackage {
    /// Pool paths are joined to mirror URLs: a locked one must stay inside the mirror.
    static func isPoolPath(_ path: String) -> Bool {
        !path.hasPrefix("/") && !path.split(separator: "/").contains("..") && path.hasSuffix(".deb")
    }
}

extension LockedDebian {
    var jsonValue: JSONValue {
        .object([
            "type": .string("debian"),
            "suite": .string(suite), "codename": .string(codename), "architecture": .string(architecture),
            "components": .array(components.map(JSONValue.string)), "variant": .string(variant),
            "requested": .array(requested.map(JSONValue.string)), "recommends": .bool(recommends),
            "inRelease": .object(["sha256": .string(inRelease.description), "date": .string(date)]),
            "indexes": .array(indexes.map {
                .object(["path": .string($0.path), "sha256": .string($0.sha256.description), "size": .int($0.size)])
            }),
            "packages": .array(packages.map {
                .object([
                    "name": .string($0.name), "version": .string($0.version), "architecture": .string($0.architecture),
                    "path": .string($0.path), "size": .int($0.size), "sha256": .string($0.sha256.description),
                ])
            }),
        ])
    }

    static func decode(_ fields: [String: JSONValue], reader: LockReader, path: JSONPath) throws(LockfileError) -> LockedDebian {
        let releasePath = path.appending("inRelease")
        let release = try reader.object(reader.field(fields, "inRelease", path), releasePath)
        let indexesPath = path.appending("indexes")
        var indexes: [LockedIndex] = []
        for (index, raw) in try reader.array(fields, "indexes", path).enumerated() {
            let itemPath = indexesPath.appending(index)
            let item = try reader.object(raw, itemPath)
            indexes.append(LockedIndex(path: try reader.string(item, "path", itemPath),
                                       sha256: try reader.digest(item, "sha256", itemPath),
                                       size: try reader.int(item, "size", itemPath)))
        }
        let packagesPath = path.appending("packages")
        var packages: [LockedPackage] = []
        for (index, raw) in try reader.array(fields, "packages", path).enumerated() {
            // Every `strata run` reads this list: take the well-formed case without building
            // error paths, and fall through to the checks below only to say what is wrong.
            if case .object(let item) = raw, item.count == 6, case .string(let name)? = item["name"],
               case .string(let version)? = item["version"], case .string(let architecture)? = item["architecture"],
               case .string(let poolPath)? = item["path"], case .int(let size)? = item["size"],
               case .string(let digestText)? = item["sha256"], let digest = try? Digest(parsing: digestText),
               LockedPackage.isPoolPath(poolPath) {
                packages.append(LockedPackage(name: name, version: version, architecture: architecture, path: poolPath,
                                              size: size, sha256: digest))
                continue
            }
            let itemPath = packagesPath.appending(index)
            let item = try reader.object(raw, itemPath)
            let poolPath = try reader.string(item, "path", itemPath)
            // The pool path is joined to mirror URLs: it must stay inside the mirror.
            guard LockedPackage.isPoolPath(poolPath) else {
                throw reader.fail(itemPath.appending("path"), "\"\(poolPath)\" is not a pool path of a .deb")
            }
            packages.append(LockedPackage(
                name: try reader.string(item, "name", itemPath), version: try reader.string(item, "version", itemPath),
                architecture: try reader.string(item, "architecture", itemPath), path: poolPath,
                size: try reader.int(item, "size", itemPath), sha256: try reader.digest(item, "sha256", itemPath)))
        }
        return LockedDebian(
            suite: try reader.string(fields, "suite", path), codename: try reader.string(fields, "codename", path),
            architecture: try reader.string(fields, "architecture", path),
            components: try reader.strings(fields, "components", path) ?? [],
            variant: try reader.string(fields, "variant", path),
            requested: try reader.strings(fields, "requested", path) ?? [],
            recommends: try reader.bool(fields, "recommends", path),
            inRelease: try reader.digest(release, "sha256", releasePath), date: try reader.string(release, "date", releasePath),
            indexes: indexes, packages: packages)
    }
}

import StrataJSON

/// A parsed, validated manifest (`envs/NAME.json`): what an environment contains.
///
/// Guarantees: every path a user wrote is kept as written (relative to the
/// manifest's directory) and every in-session path is absolute; the fields are
/// exactly those the manifest had, with no defaults filled in — defaults belong
/// to the session that applies them.
public struct Manifest: Sendable, Equatable {
    /// Where the bottom layers come from.
    public enum Base: Sendable, Equatable {
        case scratch
        /// An OCI image layout on disk: `oci:DIR[:TAG]`, DIR relative to the manifest.
        case ociLayout(directory: String, tag: String?)
        /// An image in the store, by its tag (`strata commit`, `strata image import`).
        case image(ImageReference)
        /// A Debian suite: the variant's base set plus `packages`, from a signed archive.
        case debian(DebianSource)
        /// Another manifest this one extends (`{"env": "base"}`: `envs/base.json` beside it, or a
        /// path relative to it). `LoadedEnvironment` merges it away: a loaded manifest never has it.
        case environment(String)

        /// The reference as a user writes it.
        public var reference: String {
            switch self {
            case .scratch: return "scratch"
            case .ociLayout(let directory, let tag): return "oci:" + directory + (tag.map { ":" + $0 } ?? "")
            case .image(let reference): return reference.description
            case .debian(let source): return "debian:" + source.suite
            case .environment(let other): return "env:" + other
            }
        }
    }

    /// `"from": {"debian": {…}}` as written; nil fields take strata's defaults when locking.
    public struct DebianSource: Sendable, Equatable {
        /// Which packages form the base before `packages` are added (mmdebstrap's variants).
        public enum Variant: String, Sendable, Equatable, CaseIterable {
            /// Only `Essential: yes` packages and what they need.
            case essential
            /// Essential, `Priority: required`, and apt (the default).
            case minbase
            /// Only the named packages and what they need.
            case extract
        }

        public var suite: String
        public var components: [String]?
        public var variant: Variant?
        public var architecture: String?
        /// Mirror base URLs, tried in order; nil: `--mirror`, `STRATA_DEBIAN_MIRROR`, the host's apt sources, Debian's.
        public var mirrors: [String]?
        /// A keyring (relative to the manifest) trusted instead of `debian-archive-keyring`.
        public var keyring: String?

        public init(suite: String, components: [String]? = nil, variant: Variant? = nil, architecture: String? = nil,
                    mirrors: [String]? = nil, keyring: String? = nil) {
            self.suite = suite; self.components = components; self.variant = variant
            self.architecture = architecture; self.mirrors = mirrors; self.keyring = keyring
        }
    }

    /// One step, one layer.
    public enum Step: Sendable, Equatable {
        /// A host file or directory (relative to the manifest) placed at an absolute path.
        case copy(from: String, to: String)
        /// A local tarball (relative to the manifest), any compression libarchive reads.
        case tar(String)
        /// A command run in a session on the layers below; what it changes is the layer.
        case run(RunStep)

        /// The step as a person reads it in a message: `run: pip install -r …`.
        public var summary: String {
            switch self {
            case .copy(let from, let to): return "copy: \(from) \(to)"
            case .tar(let path): return "tar: \(path)"
            case .run(let run): return "run: " + run.command.summary
            }
        }
    }

    /// `{"run": …}`: a command and how it runs. Absent fields take the environment's
    /// settings (`workdir`, `user`) or strata's (no network, no cache).
    public struct RunStep: Sendable, Equatable {
        public enum Command: Sendable, Equatable {
            /// Run by the environment's `/bin/sh -c`.
            case shell(String)
            case argv([String])

            /// What the session executes.
            public var argv: [String] {
                switch self {
                case .shell(let script): return ["/bin/sh", "-c", script]
                case .argv(let argv): return argv
                }
            }

            /// The command on one line, cut at 60 characters.
            public var summary: String {
                let text: String
                switch self {
                case .shell(let script): text = script
                case .argv(let argv): text = argv.joined(separator: " ")
                }
                let line = text.split(whereSeparator: \.isNewline)
                    .map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
                    .filter { !$0.isEmpty }.joined(separator: "; ")
                return line.count > 60 ? String(line.prefix(59)) + "…" : line
            }
        }

        public var command: Command
        /// Variables for this step only, over the environment's.
        public var env: [String: String]
        public var workdir: String?
        /// `USER[:GROUP]`, resolved in the layers below as the manifest's `user` is.
        public var user: String?
        /// `.none` unless the step asks for the host's network (and so is not reproducible from the lock alone).
        public var network: Network
        /// Absolute paths backed by directories in the store that outlive the step: never in a layer, never in its key.
        public var cache: [String]

        public init(command: Command, env: [String: String] = [:], workdir: String? = nil, user: String? = nil,
                    network: Network = .none, cache: [String] = []) {
            self.command = command; self.env = env; self.workdir = workdir; self.user = user
            self.network = network; self.cache = cache
        }
    }

    /// `"project"`: which host directory a shell or `strata run` of this environment works in.
    public enum Project: Sendable, Equatable {
        /// A directory (relative to the manifest, or absolute), bound into the session at
        /// the same absolute path.
        case directory(String)
        /// `false`: a clean room, with no host directory in it.
        case none
    }

    public enum Network: String, Sendable, Equatable {
        case none
        case host
    }

    public enum Mount: Sendable, Equatable {
        /// `source` relative to the manifest (or absolute); `target` absolute in the session.
        case bind(source: String, target: String, readOnly: Bool)
        case tmpfs(target: String)
        /// A named volume: data in the store (`volumes/NAME/_data`) that outlives sessions,
        /// mounted read-write at the absolute `target`; never part of a commit.
        case volume(name: String, target: String)

        /// Docker's rule for volume names, `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128
        /// characters: one path component that is never `.` or `..`.
        public static func isValidVolumeName(_ name: String) -> Bool {
            let bytes = Array(name.utf8)
            func alphanumeric(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) }
            guard let first = bytes.first, bytes.count <= 128, alphanumeric(first) else { return false }
            return bytes.allSatisfy { alphanumeric($0) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }
        }
    }

    public var base: Base
    /// Debian packages to install (`name[:arch][=version]`); only with a Debian base.
    public var packages: [String]
    /// Follow `Recommends` too (default false, like `apt-get --no-install-recommends`).
    public var recommends: Bool?
    public var steps: [Step]
    /// `SOURCE_DATE_EPOCH` for steps when the base gives none (a Debian base's release date does).
    public var epoch: Int64?
    /// How the manifest was written, which is not part of what it says (two manifests that
    /// say the same are equal however they are laid out).
    public var written = Provenance()

    /// Where each step starts in the manifest (`line:column`), for messages about it.
    public var stepLocations: [SourceLocation] {
        get { written.stepLocations }
        set { written.stepLocations = newValue }
    }
    /// The top-level fields the manifest wrote (what a child overrides of the manifest it extends).
    public var writtenFields: Set<String> {
        get { written.fields }
        set { written.fields = newValue }
    }

    /// Layout, not content: always equal.
    public struct Provenance: Sendable, Equatable {
        public var stepLocations: [SourceLocation] = []
        public var fields: Set<String> = []
        public init() {}
        public static func == (_: Provenance, _: Provenance) -> Bool { true }
    }
    public var env: [String: String]
    public var workdir: String?
    public var shell: [String]?
    public var hostname: String?
    public var network: Network
    public var mounts: [Mount]
    /// `USER[:GROUP]` as written (names or numeric ids, as `docker run --user`); checked
    /// for syntax only: names are looked up in the environment by `UserDatabase`.
    public var user: String?
    public var security: Security?
    public var limits: Limits?
    /// nil (or `true`): the directory holding the manifest's `envs/` directory, when it is in one.
    public var project: Project?
    /// Labels a committed image's config carries (`org.opencontainers.image.*` and the like).
    public var labels: [String: String] = [:]

    public init(base: Base = .scratch, packages: [String] = [], recommends: Bool? = nil, steps: [Step] = [], env: [String: String] = [:], workdir: String? = nil,
                shell: [String]? = nil, hostname: String? = nil, network: Network = .none, mounts: [Mount] = [],
                user: String? = nil, security: Security? = nil, limits: Limits? = nil) {
        self.base = base; self.packages = packages; self.recommends = recommends; self.steps = steps; self.env = env; self.workdir = workdir
        self.shell = shell; self.hostname = hostname; self.network = network; self.mounts = mounts
        self.user = user; self.security = security; self.limits = limits
    }
}

extension Manifest {
    /// This manifest extending `parent` (`"from": {"env": …}`): the parent's base; its
    /// packages, steps and mounts first, then these; its env and labels under these; every
    /// other setting this manifest's when it writes one, else the parent's. `parent`'s paths
    /// must already be relative to this manifest (`mappingPaths`).
    public func extending(_ parent: Manifest) -> Manifest {
        var merged = parent
        merged.packages += packages.filter { !parent.packages.contains($0) }
        merged.recommends = recommends ?? parent.recommends
        merged.steps += steps
        merged.stepLocations += stepLocations
        for (key, value) in env { merged.env[key] = value }
        for (key, value) in labels { merged.labels[key] = value }
        merged.mounts += mounts
        merged.workdir = workdir ?? parent.workdir
        merged.shell = shell ?? parent.shell
        merged.hostname = hostname ?? parent.hostname
        merged.user = user ?? parent.user
        merged.security = security ?? parent.security
        merged.limits = limits ?? parent.limits
        if writtenFields.contains("project") { merged.project = project }
        merged.epoch = epoch ?? parent.epoch
        if writtenFields.contains("network") { merged.network = network }
        merged.writtenFields = parent.writtenFields.union(writtenFields)
        return merged
    }

    /// The manifest with every host path it holds (relative to its directory, or absolute)
    /// passed through `transform`: copied trees, tarballs, bind sources, an OCI layout, a
    /// keyring, a seccomp profile.
    public func mappingPaths(_ transform: (String) -> String) -> Manifest {
        var mapped = self
        switch base {
        case .ociLayout(let directory, let tag): mapped.base = .ociLayout(directory: transform(directory), tag: tag)
        case .debian(var source):
            source.keyring = source.keyring.map(transform)
            mapped.base = .debian(source)
        case .environment(let other): mapped.base = .environment(other.contains("/") || other.hasSuffix(".json") ? transform(other) : other)
        case .scratch, .image: break
        }
        mapped.steps = steps.map { step in
            switch step {
            case .copy(let from, let to): return .copy(from: transform(from), to: to)
            case .tar(let path): return .tar(transform(path))
            case .run: return step
            }
        }
        mapped.mounts = mounts.map { mount in
            if case .bind(let source, let target, let readOnly) = mount { return .bind(source: transform(source), target: target, readOnly: readOnly) }
            return mount
        }
        if case .profile(let path)? = security?.seccomp { mapped.security?.seccomp = .profile(path: transform(path)) }
        if case .directory(let path)? = project { mapped.project = .directory(transform(path)) }
        return mapped
    }
}

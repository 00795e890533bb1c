import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataSandbox
import StrataSeccomp
import StrataStore

/// The manifest's `security`, `user` and `limits`, turned into what the sandbox applies.
extension Sessions {
    /// Applies `security`, `user` and `limits` to a spec whose lower dirs are set (the
    /// user is looked up in them). `HOME` and `USER` follow the user unless `env` sets them.
    /// `imageUser` is the base image's `User`, which the manifest's `user` overrides.
    func confine(_ spec: inout SessionSpec, _ environment: LoadedEnvironment, imageUser: String? = nil) throws(StrataError) {
        spec.confinement = try confinement(environment)
        (spec.limits, spec.nofile) = try resourceLimits(environment)
        guard let (user, resolved) = try sessionUser(environment, lowerDirs: spec.lowerDirs, imageUser: imageUser) else { return }
        if UserNamespace.current == .single, user.uid != 0 || user.gid != 0 || !user.groups.isEmpty {
            throw .singleIDMap(what: "running the session as uid \(user.uid), gid \(user.gid)")
        }
        spec.user = user
        let chosen = environment.manifest.env
        var variables = spec.environment.filter { entry in
            !(entry.hasPrefix("HOME=") && chosen["HOME"] == nil) && !(entry.hasPrefix("USER=") && chosen["USER"] == nil)
        }
        if chosen["HOME"] == nil { variables.append("HOME=" + resolved.home) }
        if chosen["USER"] == nil, let name = resolved.name { variables.append("USER=" + name) }
        spec.environment = variables
    }

    /// Docker's default confinement, loosened only where `security` says so.
    public func confinement(_ environment: LoadedEnvironment) throws(StrataError) -> Confinement {
        let security = environment.manifest.security
        let capabilities = security?.effectiveCapabilities ?? Capability.dockerDefault
        let mask = capabilities.reduce(UInt64(0)) { $0 | (1 << UInt64($1.rawValue)) }
        var program: [UInt8]? = nil
        switch security?.seccomp ?? .default {
        case .unconfined:
            program = nil
        case .default:
            program = try seccompProgram(profileBytes: Array(SeccompProfile.dockerDefaultJSON.utf8), profileDigest: SeccompProfile.dockerDefaultDigest,
                                         file: "Docker's default seccomp profile", capabilities: capabilities)
        case .profile(let path):
            let file = environment.paths.resolve(path)
            let bytes: [UInt8]
            do { bytes = try HostFile.read(file, limit: 4 << 20) } catch {
                throw .input(path: file, reason: "cannot read the seccomp profile (\(error.reason)); fix \"security.seccomp\" in \(environment.paths.manifest)")
            }
            program = try seccompProgram(profileBytes: bytes, profileDigest: Digest.sha256(of: bytes).hex, file: file,
                                         capabilities: capabilities)
        }
        return Confinement(capabilities: mask, seccompProgram: program,
                           noNewPrivileges: security?.noNewPrivileges ?? true,
                           readonlyRoot: security?.readonlyRoot ?? false)
    }

    /// The BPF program for a profile and capability set. Compiling Docker's profile for
    /// three architectures takes ~20 ms of CPU (libseccomp's export), several times a
    /// whole warm `strata run`, so programs are kept in the store's `StoreCache.seccomp`,
    /// keyed by everything that shapes them. A damaged entry only costs a recompile.
    func seccompProgram(profileBytes: @autoclosure () -> [UInt8], profileDigest: String, file: String,
                        capabilities: [Capability]) throws(StrataError) -> [UInt8] {
        let kernel = KernelVersion.current()
        let key = "seccomp-program-2\n\(SeccompFilter.libraryVersion)\n\(kernel.major).\(kernel.minor)\n"
            + capabilities.map(\.name).joined(separator: ",") + "\n" + profileDigest
        let entry = Digest.sha256(of: Array(key.utf8)).hex + ".bpf"
        // The entry's recorded digest is checked before the program is trusted: the kernel
        // would load whatever bytes are there.
        if let bytes = store.cached(.seccomp, entry), !bytes.isEmpty, bytes.count % 8 == 0 {
            return bytes
        }
        let program: SeccompProgram
        do {
            let profile = try SeccompProfile.decode(profileBytes(), file: file)
            program = try SeccompFilter.compile(profile, capabilities: Set(capabilities.map(\.name)), kernel: kernel)
        } catch {
            throw .seccomp(error)
        }
        // A program that cannot be cached is compiled again next time; the session is not refused for it.
        try? store.storeCached(.seccomp, entry, program.bytes)
        return program.bytes
    }

    /// The manifest's `user` resolved against the environment's own `/etc/passwd` and
    /// `/etc/group` (read from the topmost layer that has them, as the session sees them).
    func sessionUser(_ environment: LoadedEnvironment, lowerDirs: [String], imageUser: String? = nil,
                     stepUser: String? = nil) throws(StrataError) -> (SessionUser, ResolvedUser)? {
        guard let spec = stepUser ?? environment.manifest.user ?? imageUser else { return nil }
        let passwd = try environmentFile("/etc/passwd", lowerDirs: lowerDirs)
        let group = try environmentFile("/etc/group", lowerDirs: lowerDirs)
        do {
            let resolved = try UserDatabase.resolve(spec, passwd: passwd, group: group)
            return (SessionUser(uid: resolved.uid, gid: resolved.gid, groups: resolved.supplementaryGroups), resolved)
        } catch {
            let whose = stepUser != nil ? "the step's \"user\"" : environment.manifest.user == nil ? "the base image's User" : "\"user\""
            throw .input(path: environment.paths.manifest, reason: "\(whose): \(error)")
        }
    }

    /// `limits` as the sandbox takes them; `nofile` must fit under this process's hard
    /// limit (raising it needs CAP_SYS_RESOURCE, which the session does not get either).
    func resourceLimits(_ environment: LoadedEnvironment) throws(StrataError) -> (ResourceLimits, UInt64?) {
        guard let limits = environment.manifest.limits else { return (ResourceLimits(), nil) }
        let resourceLimits = ResourceLimits(memoryBytes: limits.memoryBytes, pids: limits.pids, cpus: limits.cpus)
        // Said before anything is set up; the sandbox looks again when it makes the cgroup.
        if UserNamespace.current != .none, !resourceLimits.isEmpty {
            do { _ = try DelegatedCgroup.find(for: resourceLimits) } catch {
                throw .rootlessLimits(manifest: environment.paths.manifest, reason: error.reason)
            }
        }
        if let nofile = limits.nofile {
            var current = rlimit()
            if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &current) == 0, current.rlim_max != rlim_t.max, nofile > UInt64(current.rlim_max) {
                throw .input(path: environment.paths.manifest,
                             reason: "\"limits.nofile\" is \(nofile), above this machine's hard limit of \(current.rlim_max) open files; lower it or raise the limit (ulimit -Hn) before running strata")
            }
        }
        return (resourceLimits, limits.nofile)
    }
}

import CSandbox
import Glibc
import StrataOS


/// The page the legacy mount(2) data string must fit in (MACHINE.md: longer strings are cut silently).
let legacyOptionsLimit = 4096

/// The highest capability this kernel knows (`/proc/sys/kernel/cap_last_cap`): every
/// capability up to it that the confinement does not keep is dropped from the bounding set.
let lastCapability: Int32 = {
    // 63 (every bit) when the kernel does not say: dropping capabilities it lacks is harmless.
    guard let bytes = try? HostFile.read("/proc/sys/kernel/cap_last_cap", limit: 64),
          let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first, let value = Int32(line) else { return 63 }
    return value
}()

extension Sandbox {
    /// Validates `spec`, copies it into plain C memory, and hands it to `csb_run`.
    /// All allocation happens here, before the clone: the C child only reads.
    /// `forceLegacyOverlay` (tests only) takes the mount(2) path kernels without fsopen(2) take.
    /// `cgroupDirectories` go into the init record, for commands joining the session later.
    static func runSession(_ spec: SessionSpec, cgroupFDs: [Int32] = [], cgroupDirectories: [String] = [],
                           forceLegacyOverlay: Bool = false) throws(SandboxError) -> SessionExit {
        try validate(spec)
        let arena = CArena()
        defer { arena.free() }
        var cSpec = cSpec(spec, cgroupFDs: cgroupFDs, arena: arena)
        let lowers = arena.stringArray(spec.lowerDirs)
        let mounts = arena.mounts(spec.mounts)
        cSpec.lower_dirs = UnsafeRawPointer(lowers).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
        cSpec.lower_count = spec.lowerDirs.count
        cSpec.upper_dir = UnsafePointer(arena.string(spec.upperDir))
        cSpec.work_dir = UnsafePointer(arena.string(spec.workDir))
        cSpec.root_dir = UnsafePointer(arena.string(spec.rootDir))
        if let legacy = legacyOverlayOptions(spec) {
            cSpec.legacy_overlay_options = UnsafePointer(arena.string(legacy))
        }
        cSpec.force_legacy_overlay = forceLegacyOverlay ? 1 : 0
        cSpec.hostname = UnsafePointer(arena.string(spec.hostname))
        cSpec.isolate_network = spec.isolateNetwork ? 1 : 0
        cSpec.mounts = UnsafePointer(mounts)
        cSpec.mount_count = spec.mounts.count
        if let record = spec.initRecordPath {
            cSpec.init_record = UnsafePointer(arena.string(record))
            cSpec.init_record_extra = UnsafePointer(arena.string(RunningSession.recordLines(cgroupDirectories: cgroupDirectories)))
        }

        var result = csb_result()
        _ = csb_run(&cSpec, &result)
        return try exit(from: result, spec: spec, cSpec: &cSpec)
    }

    /// The fields of a C spec that describe the command and its confinement: what a
    /// session's first command and a joined command share.
    static func cSpec(_ spec: SessionSpec, cgroupFDs: [Int32], arena: CArena) -> csb_spec {
        var cSpec = csb_spec()
        cSpec.argv = UnsafePointer(arena.stringArray(spec.argv))
        cSpec.envp = UnsafePointer(arena.stringArray(spec.environment))
        cSpec.working_directory = UnsafePointer(arena.string(spec.workingDirectory))
        cSpec.hostname = UnsafePointer(arena.string(""))
        cSpec.capabilities = spec.confinement.capabilities
        cSpec.last_capability = lastCapability
        cSpec.no_new_privileges = spec.confinement.noNewPrivileges ? 1 : 0
        cSpec.readonly_root = spec.confinement.readonlyRoot ? 1 : 0
        if let program = spec.confinement.seccompProgram, !program.isEmpty {
            cSpec.seccomp_program = UnsafeRawPointer(arena.bytes(program))
            cSpec.seccomp_instructions = program.count / 8
        }
        cSpec.overlay_userxattr = spec.userNamespace == .none ? 0 : 1
        cSpec.single_id_map = spec.userNamespace == .single ? 1 : 0
        cSpec.uid = spec.user.uid
        cSpec.gid = spec.user.gid
        cSpec.groups = UnsafePointer(arena.unsignedArray(spec.user.groups))
        cSpec.group_count = spec.user.groups.count
        cSpec.cgroup_fds = UnsafePointer(arena.intArray(cgroupFDs))
        cSpec.cgroup_fd_count = cgroupFDs.count
        cSpec.nofile = spec.nofile.map { Int64($0) } ?? -1
        cSpec.terminal = spec.terminal ? 1 : 0
        cSpec.stderr_terminal = spec.stderrTerminal ? 1 : 0
        cSpec.stop_timeout_ms = Int32(clamping: spec.stopTimeoutMilliseconds)
        cSpec.output_fd = spec.terminal ? -1 : (spec.output ?? -1)
        cSpec.started_fd = spec.startedSignal ?? -1
        return cSpec
    }

    /// How the command ended, or the failure `result` reports, named with `cSpec`'s paths.
    static func exit(from result: csb_result, spec: SessionSpec, cSpec: inout csb_spec) throws(SandboxError) -> SessionExit {
        let reason = String(cString: csb_error_text(result.error))
        switch Int(result.kind) {
        case Int(CSB_EXITED.rawValue):
            return .exited(result.code)
        case Int(CSB_SIGNALED.rawValue):
            return .signaled(result.code)
        case Int(CSB_EXEC_FAILED.rawValue):
            return try failure(.exec(path: spec.argv[0], reason: reason))
        default:
            let step = String(cString: csb_step_name(result.step))
            let path = String(cString: csb_step_path(&cSpec, result.step, result.index))
            return try failure(.setup(step: step, path: path, reason: reason))
        }
    }

    private static func failure(_ error: SandboxError) throws(SandboxError) -> SessionExit {
        throw error
    }

    /// Everything the C side relies on without checking: absolute paths, no `..`
    /// inside the session, no NUL bytes, a command to run.
    static func validate(_ spec: SessionSpec) throws(SandboxError) {
        if spec.lowerDirs.isEmpty {
            throw .invalidSpec("a session needs at least one lower dir (use an empty layer for scratch)")
        }
        for dir in spec.lowerDirs { try requireHostPath(dir, what: "lower dir") }
        try requireHostPath(spec.upperDir, what: "upper dir")
        try requireHostPath(spec.workDir, what: "work dir")
        try requireHostPath(spec.rootDir, what: "root dir")
        try validateCommand(spec)
        if spec.hostname.utf8.count > 64 || spec.hostname.utf8.contains(0) {
            throw .invalidSpec("hostname \(spec.hostname.debugDescription) is longer than 64 bytes")
        }
        for mount in spec.mounts {
            switch mount {
            case .bind(let source, let target, _):
                try requireHostPath(source, what: "bind mount source")
                try requireSessionPath(target, what: "mount target")
            case .tmpfs(let target):
                try requireSessionPath(target, what: "mount target")
            }
        }
        if let record = spec.initRecordPath { try requireHostPath(record, what: "init record") }
    }

    /// What a joined command relies on too: a command, its environment, working
    /// directory, seccomp program and groups.
    static func validateCommand(_ spec: SessionSpec) throws(SandboxError) {
        guard let command = spec.argv.first, !command.isEmpty else {
            throw .invalidSpec("argv is empty: nothing to run")
        }
        for arg in spec.argv where arg.utf8.contains(0) {
            throw .invalidSpec("argument \(arg.debugDescription) contains a NUL byte")
        }
        for entry in spec.environment where entry.utf8.contains(0) || !entry.contains("=") {
            throw .invalidSpec("environment entry \(entry.debugDescription) is not KEY=VALUE")
        }
        try requireSessionPath(spec.workingDirectory, what: "working directory")
        if let program = spec.confinement.seccompProgram, program.count % 8 != 0 || program.count / 8 > 4096 {
            throw .invalidSpec("the seccomp program has \(program.count) bytes: it must be whole 8-byte instructions, at most 4096 of them")
        }
        if spec.user.groups.count > 65536 {
            throw .invalidSpec("\(spec.user.groups.count) supplementary groups are more than the kernel accepts (65536)")
        }
    }

    private static func requireHostPath(_ path: String, what: String) throws(SandboxError) {
        if !path.hasPrefix("/") || path.utf8.contains(0) {
            throw .invalidSpec("\(what) \(path.debugDescription) must be an absolute path")
        }
    }

    private static func requireSessionPath(_ path: String, what: String) throws(SandboxError) {
        try requireHostPath(path, what: what)
        if path.split(separator: "/").contains("..") {
            throw .invalidSpec("\(what) \(path.debugDescription) must not contain \"..\"")
        }
    }

    /// The mount(2) option string for kernels without fsopen(2), or nil when it
    /// would not fit in a page (and so would silently lose layers).
    static func legacyOverlayOptions(_ spec: SessionSpec) -> String? {
        // Escaping only lengthens: a stack already over the limit is not worth escaping.
        let unescaped = spec.lowerDirs.reduce(spec.upperDir.utf8.count + spec.workDir.utf8.count) { $0 + $1.utf8.count + 1 }
        if unescaped >= legacyOptionsLimit { return nil }
        func escaped(_ path: String) -> String {
            var out = ""
            for ch in path {
                if ch == "\\" || ch == ":" || ch == "," { out.append("\\") }
                out.append(ch)
            }
            return out
        }
        let options = "lowerdir=" + spec.lowerDirs.map(escaped).joined(separator: ":")
            + ",upperdir=" + escaped(spec.upperDir) + ",workdir=" + escaped(spec.workDir)
            + (spec.userNamespace == .none ? "" : ",userxattr")
        return options.utf8.count < legacyOptionsLimit ? options : nil
    }
}

/// Owns the C copies of a spec's strings and arrays until `free()`.
/// Used by one thread, for one `csb_run` call.
final class CArena {
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var raw: [UnsafeMutableRawPointer] = []

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let bytes = Array(s.utf8)
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (i, byte) in bytes.enumerated() { copy[i] = CChar(bitPattern: byte) }
        copy[bytes.count] = 0
        strings.append(copy)
        return copy
    }

    /// A NULL-terminated `char *[]`.
    func stringArray(_ items: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: items.count + 1)
        for (i, item) in items.enumerated() { array[i] = string(item) }
        array[items.count] = nil
        raw.append(UnsafeMutableRawPointer(array))
        return array
    }

    func mounts(_ items: [SessionMount]) -> UnsafeMutablePointer<csb_mount> {
        let array = UnsafeMutablePointer<csb_mount>.allocate(capacity: max(items.count, 1))
        for (i, item) in items.enumerated() {
            var m = csb_mount()
            switch item {
            case .bind(let source, let target, let readOnly):
                m.kind = Int32(CSB_MOUNT_BIND.rawValue)
                m.source = UnsafePointer(string(source))
                m.target = UnsafePointer(string(target))
                m.read_only = readOnly ? 1 : 0
            case .tmpfs(let target):
                m.kind = Int32(CSB_MOUNT_TMPFS.rawValue)
                m.target = UnsafePointer(string(target))
            }
            array[i] = m
        }
        raw.append(UnsafeMutableRawPointer(array))
        return array
    }

    func bytes(_ items: [UInt8]) -> UnsafeMutableRawPointer {
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(items.count, 1), alignment: 8)
        items.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: items.count) }
        raw.append(copy)
        return copy
    }

    func unsignedArray(_ items: [UInt32]) -> UnsafeMutablePointer<UInt32> {
        let array = UnsafeMutablePointer<UInt32>.allocate(capacity: max(items.count, 1))
        for (i, item) in items.enumerated() { array[i] = item }
        raw.append(UnsafeMutableRawPointer(array))
        return array
    }

    func intArray(_ items: [Int32]) -> UnsafeMutablePointer<Int32> {
        let array = UnsafeMutablePointer<Int32>.allocate(capacity: max(items.count, 1))
        for (i, item) in items.enumerated() { array[i] = item }
        raw.append(UnsafeMutableRawPointer(array))
        return array
    }

    func free() {
        for s in strings { s.deallocate() }
        for p in raw { p.deallocate() }
        strings = []
        raw = []
    }
}

import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataSandbox
import StrataStore

/// What a session of the project adds to its spec once the session exists: files strata
/// writes for it and the home volume it mounts.
struct ProjectSession {
    /// Files bound over the environment's (`/etc/passwd` with the caller added), by target.
    var files: [(target: String, contents: String)] = []
    /// The volume holding `HOME`, seeded from the environment's own home directory on first use.
    var homeVolume: String?
    var home: String = "/"
    var user: SessionUser = .root
}

/// `strata shell` and `strata run` as a developer uses them: in the project directory, as
/// themselves, with a home that outlives the session (devbox's and distrobox's model).
extension Sessions {
    /// The host directory a session of `environment` works in: the manifest's `"project"`,
    /// else the directory holding its `envs/`; nil for `"project": false` or a manifest
    /// outside an `envs/` directory.
    public func projectDirectory(_ environment: LoadedEnvironment) throws(StrataError) -> String? {
        let directory: String
        switch environment.manifest.project {
        case .none?: return nil
        case .directory(let path)?: directory = environment.paths.resolve(path)
        case nil:
            guard environment.paths.directory.hasSuffix("/envs") else { return nil }
            directory = String(environment.paths.directory.dropLast(5))
            if directory.isEmpty { return nil }
        }
        for reserved in ["/proc", "/dev", "/sys"] where directory == "/" || directory == reserved || directory.hasPrefix(reserved + "/") {
            throw .input(path: environment.paths.manifest, reason: "the project directory \(directory) cannot be bound into a session (it would cover the session's \(directory == "/" ? "root" : reserved)); set \"project\" to your project's directory, or false")
        }
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .input(path: directory, reason: "the project directory does not exist; create it, or fix \"project\" in \(environment.paths.manifest)")
        }
        return directory
    }

    /// Binds the project at its own path and starts there (in the caller's directory when
    /// it is inside), runs as the caller unless `user` or `-u` says otherwise, puts `HOME`
    /// on a volume of this environment and user, and names the environment in bash's prompt.
    /// The spec's lower dirs must be set (the environment's passwd and shell are looked up
    /// in them).
    func enterProject(_ directory: String, _ spec: inout SessionSpec, _ environment: LoadedEnvironment,
                      options: RunOptions) throws(StrataError) -> ProjectSession {
        var project = ProjectSession()
        let manifest = environment.manifest
        if !spec.mounts.contains(where: { $0.target == directory }) {
            spec.mounts.insert(.bind(source: directory, target: directory, readOnly: false), at: 0)
        }
        if !options.workdirGiven {
            let here = context.workingDirectory
            spec.workingDirectory = here == directory || here.hasPrefix(directory + "/") ? here : directory
        }

        var variables = EnvironmentVariables(entries: spec.environment)
        project.user = spec.user
        project.home = variables.value("HOME") ?? "/"
        if manifest.user == nil {
            let caller = context.caller
            let passwd = try environmentFile("/etc/passwd", lowerDirs: spec.lowerDirs)
            let group = try environmentFile("/etc/group", lowerDirs: spec.lowerDirs)
            let known = UserDatabase.user(uid: caller.uid, passwd: passwd, group: group)
            let name = known?.name ?? caller.name
            project.home = known?.home ?? (caller.uid == 0 ? "/root" : "/home/" + name)
            project.user = SessionUser(uid: caller.uid, gid: caller.uid == 0 ? 0 : caller.gid,
                                       groups: caller.uid == 0 ? [] : known?.supplementaryGroups ?? [])
            if known == nil {
                let shell = bashPath(spec.lowerDirs) ?? "/bin/sh"
                let line = "\(name):x:\(caller.uid):\(caller.gid):\(name):\(project.home):\(shell)\n"
                project.files.append(("/etc/passwd", Self.appending(line, to: passwd)))
            }
            if caller.uid != 0, !UserDatabase.hasGroup(caller.gid, group: group) {
                project.files.append(("/etc/group", Self.appending("\(name):x:\(caller.gid):\n", to: group)))
            }
            spec.user = project.user
            if manifest.env["HOME"] == nil { variables.set("HOME", project.home) }
            if manifest.env["USER"] == nil { variables.set("USER", name) }
        }
        if !spec.mounts.contains(where: { $0.target == project.home }) && project.home != "/" {
            project.homeVolume = Self.homeVolumeName(environment: environment.paths.name, user: project.user.uid == 0 ? "root" : (variables.value("USER") ?? String(project.user.uid)))
        }

        // The terminal and language of the person at it, unless the environment sets its own.
        for key in ["LANG", "COLORTERM"] + (spec.terminal ? ["TERM"] : []) where manifest.env[key] == nil && !variables.has(key) {
            if let value = context.variables[key], !value.isEmpty { variables.set(key, value) }
        }
        if options.shell && (options.argv ?? []).isEmpty && manifest.shell == nil {
            let prompt = "(\(environment.paths.name)) \\u@\\h:\\w\\$ "
            if let bash = bashPath(spec.lowerDirs) {
                // --rcfile replaces ~/.bashrc: strata's file reads it, then sets the prompt last.
                // -i on a terminal only (stderr may be redirected); commands piped in run plainly.
                spec.argv = [bash, "--rcfile", Self.bashrcTarget] + (spec.terminal ? ["-i"] : [])
                project.files.append((Self.bashrcTarget, Self.bashrc(prompt: prompt)))
            } else if manifest.env["PS1"] == nil {
                variables.set("PS1", prompt)
            }
        }
        spec.environment = variables.entries
        return project
    }

    /// Writes the project session's files into the session's directory and mounts them
    /// and the home volume (after `Store.createSession` made it).
    func installProject(_ project: ProjectSession, _ spec: inout SessionSpec, session: SessionRecord,
                        environment: LoadedEnvironment) throws(StrataError) {
        for (index, file) in project.files.enumerated() {
            let path = session.path + "/project-file-\(index)"
            // Written again when the session is entered again (`shell --session`).
            unlink(path)
            do { try FileSystem.createFile(path, contents: Array(file.contents.utf8), mode: 0o644, durable: false) } catch {
                throw .store(.io(path: path, reason: error.reason))
            }
            spec.mounts.append(.bind(source: path, target: file.target, readOnly: true))
        }
        guard let volume = project.homeVolume else { return }
        // A session made without it (a failed build step's, entered again) gets it now.
        if !FileSystem.exists(store.volumeDataPath(volume)) {
            do { try store.createVolume(volume) } catch { throw .store(error) }
        }
        let data = store.volumeDataPath(volume)
        try seedHome(volume, home: project.home, lowerDirs: spec.lowerDirs, user: project.user)
        spec.mounts.append(.bind(source: data, target: project.home, readOnly: false))
    }

    /// A new home volume gets the environment's own home directory first (as Docker fills
    /// an empty named volume from the image), owned by the session's user.
    func seedHome(_ volume: String, home: String, lowerDirs: [String], user: SessionUser) throws(StrataError) {
        let sources = lowerDirs.reversed().map { $0 + home }.filter { path in
            var info = stat()
            return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        }
        let owner: (uid: uid_t, gid: gid_t)? = sources.isEmpty || user.uid != 0 ? (user.uid, user.gid) : nil
        do { try store.seedVolume(volume, from: sources, owner: owner) } catch { throw .store(error) }
    }

    /// `ENV.home.USER`, kept to Docker's volume-name alphabet.
    static func homeVolumeName(environment: String, user: String) -> String {
        let raw = environment + ".home." + user
        let cleaned = String(raw.map { ch -> Character in
            ch.isASCII && (ch.isLetter || ch.isNumber || ch == "_" || ch == "." || ch == "-") ? ch : "_"
        }.prefix(128))
        return cleaned.first.map { $0.isLetter || $0.isNumber } == true ? cleaned : "h" + cleaned.dropFirst()
    }

    /// Where the shell's rc file is bound: in the session's own /dev, so that nothing of it
    /// lands in the session's changes (or in a commit).
    static let bashrcTarget = "/dev/.strata-bashrc"

    static func bashrc(prompt: String) -> String {
        let quoted = "'" + prompt.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        return """
        # strata: the user's ~/.bashrc, then a prompt naming the environment.
        if [ -f ~/.bashrc ]; then . ~/.bashrc; fi
        PS1=\(quoted)

        """
    }

    /// bash in the environment, as the session will see it; nil without one. The topmost
    /// layer with an entry at the path decides (a whiteout or directory there is no bash).
    func bashPath(_ lowerDirs: [String]) -> String? {
        for path in ["/usr/bin/bash", "/bin/bash"] {
            for dir in lowerDirs {
                var info = stat()
                guard lstat(dir + path, &info) == 0 else { continue }
                let kind = info.st_mode & S_IFMT
                if kind == S_IFREG || kind == S_IFLNK { return path }
                break
            }
        }
        return nil
    }

    /// The environment's file at `path`, from the topmost layer that has it, as the session
    /// sees it (`/etc/passwd` to resolve a user).
    func environmentFile(_ path: String, lowerDirs: [String]) throws(StrataError) -> String? {
        for dir in lowerDirs {
            var info = stat()
            let full = dir + path
            guard lstat(full, &info) == 0 else { continue }
            // A whiteout (or anything but a file) hides the lower copies.
            guard info.st_mode & S_IFMT == S_IFREG else { return nil }
            do { return String(decoding: try HostFile.read(full, limit: 16 << 20), as: UTF8.self) } catch {
                throw .input(path: full, reason: "cannot read the environment's \(path): \(error.reason)")
            }
        }
        return nil
    }

    static func appending(_ line: String, to file: String?) -> String {
        guard let file, !file.isEmpty else { return line }
        return file.hasSuffix("\n") ? file + line : file + "\n" + line
    }
}

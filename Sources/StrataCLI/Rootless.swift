import CSandbox
import Glibc
import StrataOS

/// A rootless strata runs whole in a user namespace of its own, entered before anything
/// else (the kernel refuses it to a process with threads): the caller keeps their uid, and
/// ids 0…65535 come from their `/etc/subuid` and `/etc/subgid` range through the setuid
/// `newuidmap`/`newgidmap`, as `podman unshare` does; without a range, their one id is root.
/// Everything strata then does (owners on unpack, overlay mounts, maintainer scripts) works
/// as for root, within what the user owns.
enum Rootless {
    /// Enters the user's namespace unless this is root or already in one: joins the one an
    /// earlier strata left its keeper in, else makes it and leaves a keeper. A system that
    /// refuses user namespaces ends strata here with a sentence saying so.
    static func enter() {
        let uid = getuid(), gid = getgid()
        guard uid != 0, csb_user_namespace_mode() == Int32(CSB_USERNS_NONE.rawValue) else { return }
        // Under a lock, so that two first strata processes do not make two namespaces.
        let directory = stateDirectory(uid: uid)
        let lock = directory.flatMap { lockRecord(in: $0) } ?? -1
        defer { if lock >= 0 { close(lock) } }
        if let directory, let (pid, start) = readRecord(directory), csb_join_user_namespace(pid, start) == 0 {
            keepCapabilities()
            return
        }
        let name = ProcessState.loginName(uid)
        var request = csb_userns_request()
        request.uid = uid
        request.gid = gid
        request.subuid = range(in: "/etc/subuid", name: name, id: uid)
        request.subgid = range(in: "/etc/subgid", name: name, id: uid)
        var result = csb_userns_result()
        let status: Int32 = withHelper("/usr/bin/newuidmap") { newuidmap in
            withHelper("/usr/bin/newgidmap") { newgidmap in
                request.newuidmap = newuidmap
                request.newgidmap = newgidmap
                return csb_enter_user_namespace(&request, &result)
            }
        }
        guard status == 0 else {
            let reason = SystemError.text(result.error)
            StandardError.write(result.step == Int32(CSB_USERNS_STEP_UNSHARE.rawValue)
                ? "strata: rootless strata needs a user namespace, and this system refuses one (unshare: \(reason)); allow unprivileged user namespaces (sysctl user.max_user_namespaces, or kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu) or run strata as root\n"
                : "strata: could not map ids into strata's user namespace (\(stepName(result.step)): \(reason)); check /etc/subuid and /etc/subgid for \(name)\n")
            exit(1)
        }
        keepCapabilities()
        // Said once, when the namespace is made: every later strata joins it as it is.
        if result.mode == Int32(CSB_USERNS_SINGLE.rawValue) {
            let why = result.step == 0
                ? "\(name) has no subordinate ids in /etc/subuid and /etc/subgid, or uidmap is not installed"
                : "\(stepName(result.step)) failed (wait status \(result.helper_status)\(result.error == 0 ? "" : ", " + SystemError.text(result.error)))"
            StandardError.write("strata: \(why), so sessions have one id only (root inside); files owned by anyone else cannot be unpacked (`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(name)` gives a range)\n")
        }
        // Without a keeper, this strata works alone: other strata processes cannot join its sessions.
        guard let directory else {
            StandardError.write("strata: no home directory for the record of strata's user namespace, so `strata exec` cannot join this session; set HOME\n")
            return
        }
        let keeper = csb_start_namespace_keeper()
        let recorded: String?
        if keeper > 0 {
            do {
                try HostFile.writeAtomically(Array("\(keeper) \(csb_process_start_time(keeper))\n".utf8), to: directory + "/userns", mode: 0o600)
                recorded = nil
            } catch { recorded = error.description }
        } else {
            recorded = "fork: " + SystemError.text(errno)
        }
        if let recorded {
            StandardError.write("strata: cannot keep strata's user namespace for later commands (\(recorded)), so `strata exec` cannot join this session\n")
        }
    }

    /// What a `csb_userns_step` was doing, in words.
    static func stepName(_ step: Int32) -> String {
        switch UInt32(bitPattern: step) {
        case CSB_USERNS_STEP_SOCKET.rawValue: return "socketpair for the id-map helper"
        case CSB_USERNS_STEP_FORK.rawValue: return "forking the id-map helper"
        case CSB_USERNS_STEP_HELPER.rawValue: return "the id-map helper"
        case CSB_USERNS_STEP_NEWUIDMAP.rawValue: return "newuidmap"
        case CSB_USERNS_STEP_NEWGIDMAP.rawValue: return "newgidmap"
        case CSB_USERNS_STEP_NEWIDMAPS.rawValue: return "newuidmap and newgidmap"
        case CSB_USERNS_STEP_UID_MAP.rawValue: return "writing /proc/self/uid_map"
        case CSB_USERNS_STEP_SETGROUPS.rawValue: return "writing /proc/self/setgroups"
        case CSB_USERNS_STEP_GID_MAP.rawValue: return "writing /proc/self/gid_map"
        default: return "step \(step)"
        }
    }

    /// Programs strata runs itself (the -d runner, strata-fetch) keep the namespace's
    /// capabilities: its uid there is the user's, and execve would clear them.
    static func keepCapabilities() {
        guard csb_keep_capabilities_across_exec() == 0 else {
            StandardError.write("strata: cannot keep capabilities in strata's user namespace: \(SystemError.text(errno))\n")
            exit(1)
        }
    }

    /// `$XDG_STATE_HOME/strata` (else `~/.local/state/strata`), made 0700 when missing: where
    /// the record of the user's namespace keeper lives. nil without a home.
    static func stateDirectory(uid: uid_t) -> String? {
        var base: String
        if let state = ProcessState.variable("XDG_STATE_HOME"), state.hasPrefix("/") {
            base = state
        } else if let home = ProcessState.variable("HOME"), home.hasPrefix("/") {
            base = home + "/.local/state"
        } else if let entry = getpwuid(uid), let home = entry.pointee.pw_dir {
            base = String(cString: home) + "/.local/state"
        } else {
            return nil
        }
        base += "/strata"
        do { try FileSystem.makeDirectories(base, mode: 0o700) } catch { return nil }
        return base
    }

    static func lockRecord(in directory: String) -> Int32? {
        let fd = open(directory + "/userns.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX) == 0 else { close(fd); return nil }
        return fd
    }

    /// The keeper's `PID START` (its start time tells a recycled pid apart).
    static func readRecord(_ directory: String) -> (Int32, Int64)? {
        let text: String
        do { text = String(decoding: try HostFile.read(directory + "/userns", limit: 256), as: UTF8.self) } catch { return nil }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let pid = Int32(fields[0]), let start = Int64(fields[1]) else { return nil }
        return (pid, start)
    }

    /// The first range of `file` (`NAME:START:COUNT` lines, NAME a login name or a uid) for
    /// this user; none when there is no file, no line, or the helpers cannot use it.
    static func range(in file: String, name: String, id: uid_t) -> csb_id_range {
        let text: String
        do { text = String(decoding: try HostFile.read(file, limit: 1 << 20), as: UTF8.self) } catch { return csb_id_range() }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == name || fields[0] == String(id),
                  let start = UInt(fields[1]), let count = UInt(fields[2]), count > 0 else { continue }
            return csb_id_range(start: start, count: count)
        }
        return csb_id_range()
    }

    /// `path` as a C string for the duration of `body` when it is a setuid-root program,
    /// else NULL (uidmap is not installed, or it lost its setuid bit).
    static func withHelper<T>(_ path: String, _ body: (UnsafePointer<CChar>?) -> T) -> T {
        var info = stat()
        guard stat(path, &info) == 0, info.st_uid == 0, info.st_mode & S_ISUID != 0 else { return body(nil) }
        return path.withCString { body($0) }
    }
}

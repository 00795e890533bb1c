import Foundation
import Testing

/// `strata shell` and `strata run` as a developer's shell: the project bound in at its own
/// path and the session starting there, the caller as the user (root, or the user behind
/// `sudo`), `HOME` on a volume of the environment, bash with a prompt naming it.
@Suite struct ProjectSessionTests {
    static let busybox = #"{"from": {"image": "oci:../images/busybox:latest"}}"#

    @Test func aSessionStartsInTheProjectAndWritesThere() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", Self.busybox)
        try harness.write("src/main.txt", "source\n")
        #expect(harness.strata(["lock", "bb"]).status == 0)
        let locked = try harness.read("lockfiles/bb.lock.json")
        let run = harness.strata(["run", "bb", "--", "sh", "-c", "pwd; cat src/main.txt; echo made > made.txt; id -u; echo $HOME"])
        #expect(run.status == 0 && run.stdout == "\(harness.project)\nsource\n0\n/root\n", "\(run.stdout) \(run.stderr)")
        #expect(try harness.read("made.txt") == "made\n", "the project is the host's directory, not a copy")
        // From a directory inside the project, NAME is found in envs/ above, and the session starts there.
        let inside = Harness.exec([Harness.binary, "run", "bb", "--", "pwd"], cwd: harness.project + "/src",
                                  env: ["PATH": "/usr/bin:/bin", "STRATA_ROOT": harness.store])
        #expect(inside.stdout == harness.project + "/src\n", "\(inside.stdout) \(inside.stderr)")
        // -w still decides; "project": false is a clean room.
        #expect(harness.strata(["run", "-w", "/etc", "bb", "--", "pwd"]).stdout == "/etc\n")
        try harness.manifest("clean", #"{"from": {"image": "oci:../images/busybox:latest"}, "project": false, "workdir": "/opt"}"#)
        let clean = harness.strata(["run", "clean", "--", "sh", "-c", "pwd; ls \(harness.project) 2>&1"])
        #expect(clean.stdout.hasPrefix("/opt\n") && clean.stdout.contains("No such file"), "\(clean.stdout) \(clean.stderr)")
        // "project" as a path: that directory instead, relative to the manifest.
        try harness.write("other/marker", "other\n")
        try harness.manifest("elsewhere", #"{"from": {"image": "oci:../images/busybox:latest"}, "project": "../other"}"#)
        let elsewhere = harness.strata(["run", "elsewhere", "--", "sh", "-c", "pwd; cat marker"])
        #expect(elsewhere.stdout == "\(harness.project)/other\nother\n", "\(elsewhere.stdout) \(elsewhere.stderr)")
        try harness.manifest("missing", #"{"from": {"image": "oci:../images/busybox:latest"}, "project": "../nowhere"}"#)
        let missing = harness.strata(["run", "missing", "--", "true"])
        #expect(missing.status != 0 && missing.stderr.contains("the project directory does not exist"), "\(missing.stderr)")
        try harness.manifest("typo", #"{"from": {"image": "oci:../images/busybox:latest"}, "project": 3}"#)
        let typo = harness.strata(["run", "typo", "--", "true"])
        #expect(typo.status == 2 && typo.stderr.contains("project"), "\(typo.stderr)")
        #expect(try harness.read("lockfiles/bb.lock.json") == locked, "the project never changes the lockfile")
        #expect(harness.strata(["lock", "bb", "--check"]).status == 0)
    }

    /// Root through sudo: the session runs as SUDO_UID/SUDO_GID with a passwd entry of that
    /// name, files it makes in the project are that user's on the host, and its home (a
    /// volume of the environment and user) outlives the session.
    @Test func throughSudoTheUserIsThemselves() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("bb", Self.busybox)
        chmod(harness.project, 0o777)
        let sudo = ["SUDO_UID": "4321", "SUDO_GID": "4322", "SUDO_USER": "dev"]
        let run = harness.strata(["run", "bb", "--", "sh", "-c", "id; echo $HOME $USER; grep '^dev:' /etc/passwd; touch mine; echo kept > ~/.history-test"], env: sudo)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("uid=4321(dev) gid=4322(dev)"), "\(run.stdout)")
        #expect(run.stdout.contains("/home/dev dev\ndev:x:4321:4322:dev:/home/dev:/bin/sh\n"), "\(run.stdout)")
        var info = stat()
        #expect(stat(harness.project + "/mine", &info) == 0 && info.st_uid == 4321 && info.st_gid == 4322, "owned by the user on the host")
        let again = harness.strata(["run", "bb", "--", "sh", "-c", "cat ~/.history-test; ls -ld ~"], env: sudo)
        #expect(again.stdout.hasPrefix("kept\ndrwx------") && again.stdout.contains("dev"), "\(again.stdout) \(again.stderr)")
        #expect(harness.strata(["volume", "ls"]).stdout.contains("bb.home.dev"))
        // The image's own passwd is what `strata commit` would see: the entry is bound, not written.
        try harness.write("src/f", "x\n")
        // Nor are the mount points the session's mounts made (its home, a -v target): a kept
        // session's changes are only what its command did.
        let diff = harness.strata(["run", "--name", "kept", "-v", harness.project + "/src:/srv/data/src", "bb", "--",
                                   "sh", "-c", "touch /made-by-command"], env: sudo.merging(["SUDO_UID": "0"]) { $1 })
        #expect(diff.status == 0, "\(diff.stderr)")
        let changes = harness.strata(["diff", "kept"])
        #expect(changes.stdout == "A /made-by-command\n", "\(changes.stdout) \(changes.stderr)")
        #expect(harness.strata(["run", "--name", "kept-dev", "bb", "--", "true"], env: sudo).status == 0)
        #expect(harness.strata(["diff", "kept-dev"]).stdout == "", "the home volume's mount point /home/dev is gone too")
        // A manifest's user wins over the caller.
        try harness.manifest("nobody", #"{"from": {"image": "oci:../images/busybox:latest"}, "user": "nobody"}"#)
        #expect(harness.strata(["run", "nobody", "--", "id", "-un"], env: sudo).stdout == "nobody\n")
    }

    /// The shell through a real terminal: bash (copied from the host into the environment)
    /// with the prompt `(ENV) user@host:path$`, in the project, TERM/LANG/COLORTERM passed
    /// through, history kept for the next shell, the exit status returned; as root and as a
    /// user made by the test (rootless, as themselves).
    @Test(arguments: [false, true]) func bashShellNamesTheEnvironmentAndKeepsHistory(rootless: Bool) throws {
        guard TerminalSession.available else {
            Issue.record("tmux is not installed (scripts/setup installs it)")
            return
        }
        let harness = try Harness()
        defer { harness.cleanup() }
        try Self.copyHostBash(into: harness.project + "/bashroot")
        try harness.manifest("dev", """
            {"from": {"image": "oci:../images/busybox:latest"}, "hostname": "box",
             "steps": [{"copy": {"from": "../bashroot", "to": "/"}}]}
            """)
        let out = harness.project + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let variables = "TERM=xterm LANG=C.UTF-8 COLORTERM=truecolor"
        let line: String, prompt: String
        var user: RootlessUser? = nil
        defer { user?.remove() }
        if rootless {
            guard RootlessUser.available && RootlessUser.helpersInstalled else {
                Issue.record("useradd, setpriv or a setuid newuidmap is missing (scripts/setup installs them)")
                return
            }
            let made = try RootlessUser(subordinateRange: true)
            user = made
            made.own(harness)
            #expect(made.strata(["build", "dev"], in: harness.project).status == 0)
            line = "setpriv --reuid=\(made.name) --regid=\(made.name) --init-groups --reset-env env \(variables) '\(made.binaries)/strata' shell dev"
            prompt = "(dev) \(made.name)@box:\(harness.project)$"
        } else {
            #expect(harness.strata(["build", "dev"]).status == 0)
            line = "STRATA_ROOT='\(harness.store)' \(variables) '\(Harness.binary)' shell dev"
            prompt = "(dev) root@box:\(harness.project)#"
        }
        let inner = line + "; echo $? > \(out)/exit.tmp; mv \(out)/exit.tmp \(out)/exit; sleep 60"
        for round in 1...2 {
            try? FileManager.default.removeItem(atPath: out + "/exit")
            guard let terminal = TerminalSession.start(inner, in: harness.project) else {
                Issue.record("tmux did not start")
                return
            }
            defer { terminal.close() }
            #expect(terminal.waitForScreen(prompt), "round \(round): \(terminal.screen)")
            if round == 1 {
                terminal.send("echo $TERM $LANG $COLORTERM; echo marker-$((6*7))", "Enter")
                #expect(terminal.waitForScreen("xterm C.UTF-8 truecolor"), "\(terminal.screen)")
                terminal.send("exit 3", "Enter")
            } else {
                terminal.send("history | grep -c marker-", "Enter")
                // The earlier shell's line and this one: history survived.
                #expect(terminal.waitForScreen { $0.contains("\n2\n") }, "history did not survive: \(terminal.screen)")
                terminal.send("exit 3", "Enter")
            }
            #expect(Harness.waitFor(out + "/exit"), "\(terminal.screen)")
            #expect(try harness.read("out/exit") == "3\n")
        }
        // Commands piped in run in a plain, non-interactive bash: no prompt, no job-control noise.
        let piped = rootless ? user!.strata(["shell", "dev"], in: harness.project, stdin: "echo $BASH_VERSION | cut -c1; exit 5\n")
                             : harness.strata(["shell", "dev"], stdin: "echo $BASH_VERSION | cut -c1; exit 5\n")
        #expect(piped.status == 5 && piped.stdout == "5\n" && piped.stderr.isEmpty, "\(piped.stdout) \(piped.stderr)")
    }

    /// The host's bash with the libraries it loads, laid out as a root file system.
    static func copyHostBash(into root: String) throws {
        let ldd = Harness.exec(["/usr/bin/ldd", "/bin/bash"], cwd: "/", env: ["PATH": "/usr/bin:/bin"])
        var files = ["/usr/bin/bash"]
        for line in ldd.stdout.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let path = words.first(where: { $0.hasPrefix("/") }) { files.append(String(path)) }
        }
        for file in files {
            let target = root + file
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: target).deletingLastPathComponent().path,
                                                    withIntermediateDirectories: true)
            // -L: the file a symlink (/lib64's loader) names, under the name the program asks for.
            let copied = Harness.exec(["/bin/cp", "-L", file, target], cwd: "/", env: ["PATH": "/usr/bin:/bin"])
            #expect(copied.status == 0, "\(copied.stderr)")
        }
    }
}

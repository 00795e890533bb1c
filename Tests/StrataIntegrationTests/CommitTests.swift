import Foundation
import Testing

/// `strata commit` and images as environments' bases, through the CLI.
@Suite struct CommitTests {
    func busybox() throws -> Harness {
        let harness = try Harness()
        try harness.manifest("bb", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"}, "env": {"GREETING": "hi"}, "workdir": "/work"}
        """)
        return harness
    }

    func upper(_ harness: Harness, _ session: String) throws -> String {
        let sessions = harness.store + "/sessions"
        for id in try FileManager.default.contentsOfDirectory(atPath: sessions) {
            let record = try String(contentsOfFile: "\(sessions)/\(id)/record", encoding: .utf8)
            if record.contains("name=\(session)\n") { return "\(sessions)/\(id)/upper" }
        }
        throw CocoaError(.fileNoSuchFile)
    }

    /// Every kind of change a session makes survives commit → image → a new environment on it.
    @Test func committedChangesAreTheNewBase() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let script = """
        echo hello > /work/a && ln /work/a /work/b && ln -s a /work/c && chmod 4750 /work/a && \
        mkdir -p /work/d && echo secret > /work/d/s && chmod 600 /work/d/s && chown 1000:1000 /work/d/s && \
        rm /bin/ls && rm -rf /etc && mkdir /etc && echo only > /etc/only && mkfifo /work/fifo
        """
        let made = harness.strata(["run", "--name", "s", "bb", "--", "sh", "-c", script])
        #expect(made.status == 0, "\(made.stderr)")
        // Set from the host on the session's change: busybox has no setfattr.
        let upper = try upper(harness, "s")
        let capability = "0sAQAAAgAgAAAAAAAAAAAAAAAAAAA="  // cap_net_raw+ep, VFS_CAP_REVISION_2
        for (name, value) in [("user.origin", "strata-test"), ("security.capability", capability)] {
            let set = Harness.exec(["/usr/bin/setfattr", "-n", name, "-v", value, upper + "/work/a"], cwd: "/", env: [:])
            #expect(set.status == 0, "\(set.stderr)")
        }
        let commit = harness.strata(["commit", "s", "--tag", "mine:1", "--change", "CMD [\"cat\", \"/work/a\"]", "-m", "first"])
        #expect(commit.status == 0, "\(commit.stderr)")
        #expect(commit.stdout.hasPrefix("sha256:"), "\(commit.stdout)")

        try harness.manifest("on", #"{"project": false, "from": {"image": "mine:1"}}"#)
        let cmd = harness.strata(["run", "on"])
        #expect(cmd.stdout == "hello\n", "the image's CMD runs: \(cmd.stderr)")
        let look = harness.strata(["run", "on", "--", "sh", "-c", """
        stat -c '%a %u:%g %h %i %F %n' /work/a /work/b /work/d/s /work/fifo; readlink /work/c; \
        ls /etc; cat /work/d/s; test -e /bin/ls || echo no-ls; echo $GREETING; pwd
        """])
        #expect(look.status == 0, "\(look.stderr)")
        let lines = look.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 10, "\(look.stdout)")
        guard lines.count == 10 else { return }
        let a = lines[0].split(separator: " "), b = lines[1].split(separator: " ")
        #expect(a[0] == "4750" && a[1] == "0:0" && a[2] == "2", "\(lines[0])")
        #expect(a[3] == b[3], "hardlinks stay hardlinks: \(lines[0]) / \(lines[1])")
        #expect(lines[2].hasPrefix("600 1000:1000 1 "), "\(lines[2])")
        #expect(lines[3].contains("fifo"), "\(lines[3])")
        #expect(lines[4] == "a")
        #expect(lines[5] == "only", "the opaque /etc hides the base's files: \(look.stdout)")
        #expect(lines[6] == "secret")
        #expect(lines[7] == "no-ls", "the deletion (whiteout) holds")
        #expect(lines[8] == "hi" && lines[9] == "/work", "env and workdir come from the manifest")

        // xattrs reach the new environment's layer (read on the host: busybox has no getfattr).
        let layers = try FileManager.default.contentsOfDirectory(atPath: harness.store + "/layers")
        let carriers = layers.filter { layer in
            let get = Harness.exec(["/usr/bin/getfattr", "--absolute-names", "-n", "user.origin", "\(harness.store)/layers/\(layer)/work/a"], cwd: "/", env: [:])
            return get.stdout.contains("strata-test")
        }
        #expect(carriers.count == 1, "one unpacked layer has the session's xattr")
        if let layer = carriers.first {
            let cap = Harness.exec(["/usr/bin/getfattr", "--absolute-names", "-e", "base64", "-n", "security.capability", "\(harness.store)/layers/\(layer)/work/a"], cwd: "/", env: [:])
            #expect(cap.stdout.contains(capability.dropFirst(2)), "\(cap.stdout) \(cap.stderr)")
        }
    }

    /// With SOURCE_DATE_EPOCH, the same change gives the same image, however often and whenever it is made.
    @Test func sameChangeSameDigest() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        let epoch = ["SOURCE_DATE_EPOCH": "1700000000"]
        for name in ["one", "two"] {
            // The second session's changes get other, later mtimes, as if it were made years later.
            let later = name == "two" ? "; touch -d '2030-01-01 00:00:00' /work /work/f /work/g /bin" : ""
            let run = harness.strata(["run", "--name", name, "bb", "--", "sh", "-c", "echo same > /work/f; mkdir /work/g; rm /bin/cat" + later])
            #expect(run.status == 0, "\(run.stderr)")
        }
        var digests: Set<String> = []
        for (name, tag) in [("one", "a:1"), ("one", "a:2"), ("two", "a:3")] {
            let commit = harness.strata(["commit", name, "--tag", tag], env: epoch)
            #expect(commit.status == 0, "\(commit.stderr)")
            digests.insert(commit.stdout)
        }
        #expect(digests.count == 1, "\(digests)")
        for compression in ["gzip", "zstd"] {
            let first = harness.strata(["commit", "one", "--tag", "c:1", "--compression", compression], env: epoch)
            let second = harness.strata(["commit", "two", "--tag", "c:2", "--compression", compression], env: epoch)
            #expect(first.status == 0 && first.stdout == second.stdout, "\(compression): \(first.stdout) \(second.stdout) \(first.stderr)")
        }
        let inspect = harness.strata(["image", "inspect", "a:1"])
        #expect(inspect.stdout.contains("\"Created\": \"2023-11-14T22:13:20Z\""), "\(inspect.stdout)")
        let unset = harness.strata(["commit", "one", "--tag", "a:4"])
        #expect(unset.status == 0 && !digests.contains(unset.stdout), "without the epoch the time is now")
    }

    /// `--change` sets the config as Dockerfile instructions do; `image inspect` shows it.
    @Test func changesSetTheConfig() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "true"]).status == 0)
        let commit = harness.strata([
            "commit", "s", "cfg:1", "--change", "ENV A=1 B=\"two words\"", "--change", "WORKDIR /tmp",
            "--change", "ENTRYPOINT [\"/bin/sh\", \"-c\"]", "--change", "CMD [\"echo $A $B from $(pwd)\"]",
            "--change", "LABEL org.example=yes", "--change", "USER 0:0", "--author", "Ada",
        ])
        #expect(commit.status == 0, "\(commit.stderr)")
        let inspect = harness.strata(["image", "inspect", "cfg:1"])
        for needle in ["\"A=1\"", "\"B=two words\"", "\"WorkingDir\": \"/tmp\"", "\"org.example\": \"yes\"", "\"User\": \"0:0\"", "\"Author\": \"Ada\"", "\"RepoTags\": [\n      \"cfg:1\""] {
            #expect(inspect.stdout.contains(needle), "\(needle) in \(inspect.stdout)")
        }
        try harness.manifest("on", #"{"project": false, "from": {"image": "cfg:1"}}"#)
        let run = harness.strata(["run", "on"])
        #expect(run.stdout == "1 two words from /tmp\n", "\(run.stdout) \(run.stderr)")
        // An image committed on top keeps the base's labels under the manifest's own.
        try harness.manifest("labelled", #"{"from": {"image": "cfg:1"}, "labels": {"team": "infra"}}"#)
        #expect(harness.strata(["run", "--name", "s2", "labelled", "--", "true"]).status == 0)
        #expect(harness.strata(["commit", "s2", "cfg:2"]).status == 0)
        let second = harness.strata(["image", "inspect", "cfg:2"]).stdout
        #expect(second.contains("\"org.example\": \"yes\"") && second.contains("\"team\": \"infra\""), "\(second)")
    }

    /// A session whose environment was re-locked onto other layers still commits, without the new base's config.
    @Test func relockedEnvironmentStillCommits() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "sh", "-c", "echo mine > /mine"]).status == 0)
        try harness.write("files/extra", "extra\n")
        try harness.manifest("bb", """
        {"from": {"image": "oci:../images/busybox:latest"}, "steps": [{"copy": {"from": "../files/extra", "to": "/extra"}}]}
        """)
        #expect(harness.strata(["lock", "bb"]).status == 0)
        let commit = harness.strata(["commit", "s", "old:1"])
        #expect(commit.status == 0 && commit.stderr.contains("re-locked since it started"), "\(commit.stderr)")
        try harness.manifest("on", #"{"from": {"image": "old:1"}}"#)
        let look = harness.strata(["run", "on", "--", "sh", "-c", "cat /mine; test -e /extra || echo no-extra"])
        #expect(look.stdout == "mine\nno-extra\n", "the session's snapshot, not the re-locked one: \(look.stderr)")
    }

    /// A volume's data stays in the volume: the image has only the (empty) mount point.
    /// The image's config comes from the session's manifest and lockfile: when either is gone
    /// or cannot be read, commit stops with one sentence rather than use a default config.
    @Test func unreadableManifestOrLockfileStopsCommit() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        try harness.manifest("bb", #"{"from": {"image": "oci:../images/busybox:latest"}, "env": {"MINE": "1"}}"#)
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "true"]).status == 0)
        let manifest = try harness.read("envs/bb.json"), lockfile = try harness.read("lockfiles/bb.lock.json")
        try harness.write("lockfiles/bb.lock.json", "<<<<<<< HEAD\n")
        let damaged = harness.strata(["commit", "s", "--tag", "x:1"])
        #expect(damaged.status == 1 && damaged.stderr.contains("the lockfile cannot be read"), "\(damaged.stderr)")
        try FileManager.default.removeItem(atPath: harness.project + "/lockfiles/bb.lock.json")
        let noLock = harness.strata(["commit", "s", "--tag", "x:1"])
        #expect(noLock.status == 1 && noLock.stderr.contains("lockfile of session \"s\" is gone"), "\(noLock.stderr)")
        try harness.write("lockfiles/bb.lock.json", lockfile)
        try FileManager.default.removeItem(atPath: harness.project + "/envs/bb.json")
        let noManifest = harness.strata(["commit", "s", "--tag", "x:1"])
        #expect(noManifest.status == 1 && noManifest.stderr.contains("is gone"), "\(noManifest.stderr)")
        try harness.write("envs/bb.json", "{ \"from\": ")
        let badManifest = harness.strata(["commit", "s", "--tag", "x:1"])
        #expect(badManifest.status == 2 && badManifest.stderr.contains("bb.json"), "\(badManifest.stderr)")
        #expect(harness.strata(["images", "-q"]).stdout.isEmpty, "nothing was tagged")
        try harness.write("envs/bb.json", manifest)
        let commit = harness.strata(["commit", "s", "--tag", "x:1"])
        #expect(commit.status == 0, "\(commit.stderr)")
        #expect(harness.strata(["image", "inspect", "x:1"]).stdout.contains("MINE=1"))
    }

    /// An image archive's names that are not tags strata can use are said, not dropped.
    @Test func unusableArchiveNamesAreSaid() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "true"]).status == 0)
        #expect(harness.strata(["commit", "s", "--tag", "good:1"]).status == 0)
        #expect(harness.strata(["image", "save", "good:1", "--format", "docker-archive", "-o", "good.tar"]).status == 0)
        // The same archive, naming its image a second time with a name no tag can have.
        let script = """
        import json, tarfile, io
        with tarfile.open("good.tar") as src, tarfile.open("named.tar", "w") as dst:
            for member in src.getmembers():
                data = src.extractfile(member).read() if member.isfile() else None
                if member.name == "manifest.json":
                    manifest = json.loads(data)
                    manifest[0]["RepoTags"] = ["good:2", "Not A Tag!"]
                    data = json.dumps(manifest).encode()
                    member.size = len(data)
                dst.addfile(member, io.BytesIO(data) if data is not None else None)
        """
        #expect(Harness.exec(["/usr/bin/python3", "-c", script], cwd: harness.project, env: [:]).status == 0)
        let load = harness.strata(["image", "load", "named.tar"])
        #expect(load.status == 0 && load.stdout == "good:2\n", "\(load.stdout) \(load.stderr)")
        #expect(load.stderr.contains("Not A Tag!") && load.stderr.contains("cannot use as a tag"), "\(load.stderr)")
    }

    @Test func volumesAreNotCommitted() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("vol", """
        {"from": {"image": "oci:../images/busybox:latest"}, "mounts": [{"type": "volume", "name": "cache", "target": "/cache"}]}
        """)
        let run = harness.strata(["run", "--name", "s", "vol", "--", "sh", "-c", "echo kept > /cache/data && echo layer > /outside"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(harness.strata(["commit", "s", "v:1"]).status == 0)
        try harness.manifest("on", #"{"from": {"image": "v:1"}}"#)
        let look = harness.strata(["run", "on", "--", "sh", "-c", "cat /outside; ls -A /cache | wc -l"])
        #expect(look.stdout == "layer\n0\n", "\(look.stdout) \(look.stderr)")
        let volume = harness.strata(["run", "vol", "--", "cat", "/cache/data"])
        #expect(volume.stdout == "kept\n", "the volume still has it: \(volume.stderr)")
    }

    /// The image's USER is who an environment on it runs as, unless its manifest says otherwise.
    @Test func imageUserApplies() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "true"]).status == 0)
        #expect(harness.strata(["commit", "s", "u:1", "--change", "USER 1000:1000"]).status == 0)
        try harness.manifest("as-image", #"{"project": false, "from": {"image": "u:1"}}"#)
        try harness.manifest("as-root", #"{"from": {"image": "u:1"}, "user": "0"}"#)
        #expect(harness.strata(["run", "as-image", "--", "id", "-u"]).stdout == "1000\n")
        #expect(harness.strata(["run", "as-root", "--", "id", "-u"]).stdout == "0\n")
    }

    /// A snapshot of more than 40 layers becomes an image of 40: the bottom ones merged, the session's last.
    @Test func manyLayersAreMerged() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        var steps: [String] = []
        for index in 0..<45 {
            try harness.write("files/f\(index)", "file \(index)\n")
            steps.append(#"{"copy": {"from": "../files/f\#(index)", "to": "/layers/f\#(index)"}}"#)
        }
        // The last step replaces an earlier file: the merged image must keep the top version.
        try harness.write("files/top", "top\n")
        steps.append(#"{"copy": {"from": "../files/top", "to": "/layers/f0"}}"#)
        try harness.manifest("many", """
        {"from": {"image": "oci:../images/busybox:latest"}, "steps": [\(steps.joined(separator: ", "))]}
        """)
        #expect(harness.strata(["run", "--name", "m", "many", "--", "sh", "-c", "echo session > /layers/mine"]).status == 0)
        let commit = harness.strata(["commit", "m", "--tag", "many:1"])
        #expect(commit.status == 0, "\(commit.stderr)")
        #expect(commit.stderr.contains("merged"), "\(commit.stderr)")
        let inspect = harness.strata(["image", "inspect", "many:1"])
        let layerCount = inspect.stdout.components(separatedBy: "\"MediaType\"").count - 1
        #expect(layerCount == 40, "\(layerCount) layers")
        try harness.manifest("on", #"{"from": {"image": "many:1"}}"#)
        let check = harness.strata(["run", "on", "--", "sh", "-c", "ls /layers | wc -l; cat /layers/f0 /layers/f44 /layers/mine"])
        #expect(check.stdout == "46\ntop\nfile 44\nsession\n", "\(check.stdout) \(check.stderr)")
    }

    @Test func listTagRemove() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "true"]).status == 0)
        let id = harness.strata(["commit", "s", "--tag", "x"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(harness.strata(["image", "tag", "x", "team/x:2"]).status == 0)
        let listed = harness.strata(["images"])
        #expect(listed.stdout.contains("x:latest") && listed.stdout.contains("team/x:2"), "\(listed.stdout)")
        let json = harness.strata(["images", "--json"])
        #expect(json.stdout.contains("\"id\": \"\(id)\""), "\(json.stdout)")
        let byID = harness.strata(["image", "inspect", String(id.dropFirst(7).prefix(8))])
        #expect(byID.stdout.contains(id), "an id prefix names the image: \(byID.stderr)")
        #expect(harness.strata(["image", "rm", "x"]).stdout == "untagged x:latest\n")
        let after = harness.strata(["images", "-q"])
        #expect(after.stdout == String(id.dropFirst(7).prefix(12)) + "\n", "\(after.stdout)")
        let gone = harness.strata(["image", "rm", "x"])
        #expect(gone.status == 1 && gone.stderr.contains("no image x"), "\(gone.stderr)")
    }

    @Test func badInputsAreOneSentence() throws {
        let harness = try busybox()
        defer { harness.cleanup() }
        #expect(harness.strata(["run", "--name", "s", "bb", "--", "true"]).status == 0)
        let cases: [([String], [String: String], Int32, String)] = [
            (["commit", "nope", "--tag", "a:1"], [:], 1, "nope"),
            (["commit", "s", "--tag", "Bad Name"], [:], 2, "is not an image name"),
            (["commit", "s"], [:], 2, "--tag"),
            (["commit", "s", "--tag", "a:1", "--change", "FROM x"], [:], 2, "FROM is not a change"),
            (["commit", "s", "--tag", "a:1", "--change", "CMD [\"unclosed\""], [:], 2, "JSON array"),
            (["commit", "s", "--tag", "a:1"], ["SOURCE_DATE_EPOCH": "yesterday"], 2, "SOURCE_DATE_EPOCH"),
            (["commit", "s", "--tag", "a:1", "--compression", "lzma"], [:], 2, "--compression"),
            (["image", "save", "nothere", "-o", "x.tar"], [:], 1, "no image nothere"),
        ]
        for (arguments, env, status, needle) in cases {
            let result = harness.strata(arguments, env: env)
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count <= 2, "\(arguments): \(result.stderr)")
        }
        #expect(harness.strata(["images", "-q"]).stdout.isEmpty, "nothing was tagged")
        try harness.manifest("on", #"{"from": {"image": "missing:1"}}"#)
        let missing = harness.strata(["run", "on", "--", "true"])
        #expect(missing.status == 1 && missing.stderr.contains("no image missing:1"), "\(missing.stderr)")
        try harness.manifest("badref", #"{"from": {"image": "UPPER:1"}}"#)
        let bad = harness.strata(["run", "badref", "--", "true"])
        #expect(bad.status == 2 && bad.stderr.contains("from.image"), "\(bad.stderr)")
    }
}

import Foundation
import Testing

/// The committed example, envs/python-dev.json with lockfiles/python-dev.lock.json, built from the
/// real Debian archive (the host's apt sources name the mirror; CI reaches it). Downloads ~45 MB.
@Suite struct DebianRealArchiveTests {
    /// A project with the committed envs/python-dev.json and its lockfile.
    func pythonDevProject() throws -> Harness {
        let harness = try Harness()
        try FileManager.default.createDirectory(atPath: harness.project + "/lockfiles", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/envs/python-dev.json",
                                         toPath: harness.project + "/envs/python-dev.json")
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/lockfiles/python-dev.lock.json",
                                         toPath: harness.project + "/lockfiles/python-dev.lock.json")
        return harness
    }

    @Test(.timeLimit(.minutes(8)))
    func pythonDevFromTheCommittedLock() throws {
        let harness = try pythonDevProject()
        defer { harness.cleanup() }
        let committed = try harness.read("lockfiles/python-dev.lock.json")

        let built = harness.strata(["build", "--frozen", "python-dev"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.hasPrefix("sha256:"), "\(built.stdout)")
        #expect(try harness.read("lockfiles/python-dev.lock.json") == committed, "--frozen leaves the lockfile alone")

        let python = harness.strata(["run", "--frozen", "python-dev", "--", "python3", "-c", "import ssl, sqlite3; print(42)"])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout == "42\n", "\(python.stdout) \(python.stderr)")

        // Rootless, from the same lockfile: the same layers and snapshot, maintainer scripts
        // run in the user's own namespace.
        if RootlessUser.available && RootlessUser.helpersInstalled {
            let user = try RootlessUser(subordinateRange: true)
            defer { user.remove() }
            user.own(harness)
            let rootless = user.strata(["build", "--frozen", "python-dev"], in: harness.project)
            #expect(rootless.status == 0 && rootless.stdout == built.stdout, "rootless \(rootless.stdout) vs root \(built.stdout): \(rootless.stderr)")
            let inside = user.strata(["run", "--frozen", "python-dev", "--", "sh", "-c", "id -u; python3 -c 'print(42)'; apt-get check >/dev/null && echo checked"],
                                     in: harness.project)
            #expect(inside.stdout == "\(user.uid)\n42\nchecked\n", "\(inside.stdout) \(inside.stderr)")
        } else {
            Issue.record("useradd, setpriv or a setuid newuidmap is missing (scripts/setup installs them)")
        }

        // dpkg sees exactly the locked packages, each configured.
        let query = harness.strata(["run", "--frozen", "python-dev", "--",
                                    "dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n"])
        #expect(query.status == 0, "\(query.stderr)")
        let rows = query.stdout.split(separator: "\n").map(String.init)
        for row in rows { #expect(row.hasSuffix(" install ok installed"), "\(row)") }
        let installed = rows.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }.sorted()
        let locked = try harness.lockedDebs("python-dev").map { "\($0.name) \($0.version)" }.sorted()
        #expect(!locked.isEmpty)
        #expect(installed == locked, "only in dpkg: \(Set(installed).subtracting(locked)); only in the lock: \(Set(locked).subtracting(installed))")

        let check = harness.strata(["run", "--frozen", "python-dev", "--", "apt-get", "check"])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")

        // The environment committed as an image (its 100-odd package layers merged to fit 40)
        // is a base that still runs Python and whose dpkg database still holds.
        let work = harness.strata(["run", "--frozen", "--name", "dev", "python-dev", "--", "sh", "-c",
                                   "echo 'print(6 * 7)' > /opt/answer.py && rm /usr/bin/pydoc3*"])
        #expect(work.status == 0, "\(work.stderr)")
        let commit = harness.strata(["commit", "dev", "--tag", "pydev:1"])
        #expect(commit.status == 0, "\(commit.stderr)")
        // A project's session keeps HOME in a volume, which (as Docker's volumes) is not committed.
        #expect(commit.stderr.contains("python-dev.home.root"), "\(commit.stderr)")
        let inspect = harness.strata(["image", "inspect", "pydev:1"])
        #expect(inspect.stdout.components(separatedBy: "\"MediaType\"").count - 1 <= 40, "\(inspect.stdout.prefix(400))")
        try harness.manifest("on-pydev", #"{"from": {"image": "pydev:1"}}"#)
        let answer = harness.strata(["run", "on-pydev", "--", "sh", "-c",
                                     "python3 /opt/answer.py && dpkg-query -W -f '${Status}\\n' python3 && ls /usr/bin/pydoc3* 2>&1 | head -1"])
        #expect(answer.stdout.hasPrefix("42\ninstall ok installed\n"), "\(answer.stdout) \(answer.stderr)")
        #expect(answer.stdout.contains("No such file"), "the deletion holds: \(answer.stdout)")
    }

    /// An environment extending python-dev with a venv step builds, and `build --verify`
    /// rebuilds every Debian and step layer in a fresh store to the same bytes.
    @Test(.timeLimit(.minutes(8)))
    func aVenvOnPythonDevVerifies() throws {
        let harness = try pythonDevProject()
        defer { harness.cleanup() }
        try harness.manifest("venv", """
        {"from": {"env": "python-dev"},
         "steps": [{"run": "python3 -m venv --without-pip /opt/venv && /opt/venv/bin/python -c 'import ssl'"}]}
        """)
        let lock = harness.strata(["lock", "venv"])
        #expect(lock.status == 0, "\(lock.stderr)")
        let parent = try harness.lockedDebs("python-dev").map { "\($0.name) \($0.version)" }
        #expect(try harness.lockedDebs("venv").map { "\($0.name) \($0.version)" } == parent, "the child keeps its parent's packages")
        let verify = harness.strata(["build", "venv", "--verify", "-q"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.hasPrefix("reproducible: ") && verify.stdout.contains("layers, all identical"), "\(verify.stdout)")
        let run = harness.strata(["run", "venv", "--", "/opt/venv/bin/python", "-c", "import ssl; print(6 * 7)"])
        #expect(run.stdout == "42\n", "\(run.stdout) \(run.stderr)")
    }
}

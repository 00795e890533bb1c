import Foundation
import Testing

/// The committed example, envs/python-dev.json with lockfiles/python-dev.lock.json, built from the
/// real Debian archive (the host's apt sources name the mirror; CI reaches it). Downloads ~45 MB.
@Suite struct DebianRealArchiveTests {
    @Test(.timeLimit(.minutes(5)))
    func pythonDevFromTheCommittedLock() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try FileManager.default.createDirectory(atPath: harness.project + "/lockfiles", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/envs/python-dev.json",
                                         toPath: harness.project + "/envs/python-dev.json")
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/lockfiles/python-dev.lock.json",
                                         toPath: harness.project + "/lockfiles/python-dev.lock.json")
        let committed = try harness.read("lockfiles/python-dev.lock.json")

        let built = harness.strata(["build", "--frozen", "python-dev"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.hasPrefix("sha256:"), "\(built.stdout)")
        #expect(try harness.read("lockfiles/python-dev.lock.json") == committed, "--frozen leaves the lockfile alone")

        let python = harness.strata(["run", "--frozen", "python-dev", "--", "python3", "-c", "import ssl, sqlite3; print(42)"])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout == "42\n", "\(python.stdout) \(python.stderr)")

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
    }
}

import Foundation
import Glibc
import Testing

/// `kill -9` at 100 moments during build (Debian and `run` steps), commit, import, pull and
/// gc. After each: `strata fsck` is clean, and the interrupted command, run again, succeeds
/// with the digests an uninterrupted run gave. Moments come from a seeded generator over the
/// length of an uninterrupted run, so a failure names a round that can be run again.
@Suite(.serialized) struct CrashTortureTests {
    /// SplitMix64: reproducible moments from the seed printed with every failure.
    struct Moments {
        var state: UInt64
        mutating func next(below limit: UInt64) -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (z ^ (z >> 31)) % max(limit, 1)
        }
    }

    /// One kind of command: how to make it have work to do again, and the command.
    struct Victim {
        var name: String
        var rounds: Int
        /// Undoes the command's effect, so the next round does the whole work.
        var reset: (Harness) -> Void
        var arguments: [String]
        /// What an uninterrupted run prints that must come again (the digests), from stdout.
        var digests: (String) -> String = { $0 }
    }

    @Test func killedAnywhereTheStoreStaysSoundAndTheCommandRedoesTheSame() throws {
        guard TestRegistry.installed() else { return }
        let harness = try Harness()
        defer { harness.cleanup() }
        let registry = try TestRegistry(in: harness.project + "/registry")
        defer { registry.stop() }
        #expect(registry.push(harness, to: "test/busybox:1").status == 0)
        try harness.debian("deb", packages: ["tool"], busybox: true)
        try harness.manifest("steps", """
        {"project": false, "from": {"image": "oci:../images/busybox:latest"},
         "steps": [{"run": "mkdir -p /opt/site && for i in 1 2 3; do echo page $i > /opt/site/$i.html; done"},
                   {"run": "ls /opt/site > /opt/site/index.txt"}]}
        """)
        for name in ["deb", "steps"] { #expect(harness.strata(["lock", name]).status == 0) }
        #expect(harness.strata(["run", "--name", "work", "steps", "--", "sh", "-c", "head -c 4000000 /dev/urandom > /data"]).status == 0)
        func run(_ arguments: [String]) -> Harness.Result { harness.strata(arguments, env: ["SOURCE_DATE_EPOCH": "1000"]) }
        // Makes what an environment built garbage, and collects it.
        func unbuild(_ name: String) {
            let lockfile = harness.project + "/lockfiles/\(name).lock.json", aside = harness.project + "/\(name).aside"
            rename(lockfile, aside)
            _ = harness.strata(["gc"])
            rename(aside, lockfile)
        }
        func untag(_ tag: String) {
            _ = harness.strata(["image", "rm", tag])
            _ = harness.strata(["gc"])
        }
        let pulled = "\(registry.host)/test/busybox:1"
        let victims = [
            Victim(name: "build deb", rounds: 20, reset: { _ in unbuild("deb") }, arguments: ["build", "-q", "deb"]),
            Victim(name: "build steps", rounds: 20, reset: { _ in unbuild("steps") }, arguments: ["build", "-q", "steps"]),
            Victim(name: "commit", rounds: 15, reset: { _ in untag("c:1") }, arguments: ["commit", "work", "--tag", "c:1"]),
            Victim(name: "import", rounds: 15, reset: { _ in untag("i:1") },
                   arguments: ["image", "import", "images/busybox-rootfs.tar.gz", "i:1"]),
            Victim(name: "pull", rounds: 15, reset: { _ in untag(pulled) }, arguments: ["pull", pulled]),
            Victim(name: "gc", rounds: 15, reset: { harness in
                _ = harness.strata(["build", "-q", "deb"])
                rename(harness.project + "/lockfiles/deb.lock.json", harness.project + "/deb.aside")
            }, arguments: ["gc"], digests: { _ in "" }),
        ]
        let seed = UInt64(time(nil))
        var moments = Moments(state: seed)
        var round = 0
        for victim in victims {
            victim.reset(harness)
            let began = Date()
            let reference = run(victim.arguments)
            let length = UInt64(Date().timeIntervalSince(began) * 1_000_000)
            #expect(reference.status == 0, "\(victim.name): \(reference.stderr)")
            if victim.name == "gc" { rename(harness.project + "/deb.aside", harness.project + "/lockfiles/deb.lock.json") }
            for _ in 0..<victim.rounds {
                round += 1
                victim.reset(harness)
                let delay = moments.next(below: length)
                let process = try harness.start(victim.arguments, env: ["SOURCE_DATE_EPOCH": "1000"])
                usleep(useconds_t(delay))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let context = "round \(round) (seed \(seed)): \(victim.name) killed after \(delay) µs of \(length)"
                let check = harness.strata(["fsck"])
                #expect(check.status == 0, "\(context): \(check.stdout)\(check.stderr)")
                let again = run(victim.arguments)
                #expect(again.status == 0, "\(context): again: \(again.stderr)")
                #expect(victim.digests(again.stdout) == victim.digests(reference.stdout), "\(context): \(again.stdout) vs \(reference.stdout)")
                if victim.name == "gc" { rename(harness.project + "/deb.aside", harness.project + "/lockfiles/deb.lock.json") }
                if check.status != 0 || again.status != 0 { return }
            }
        }
        #expect(harness.strata(["gc"]).status == 0)
        #expect(harness.strata(["fsck"]).status == 0)
    }
}

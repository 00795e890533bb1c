import Testing
@testable import StrataModel

@Suite struct RunStepManifestTests {
    func decode(_ text: String) throws(ManifestError) -> Manifest {
        try Manifest.decode(Array(text.utf8), file: "m.json")
    }

    func message(_ text: String) -> String {
        do { _ = try decode(text); return "accepted" } catch { return error.description }
    }

    @Test func runStepsAsShellOrArgvWithTheirSettings() throws {
        let manifest = try decode("""
        {"epoch": 1700000000, "steps": [
          {"run": "pip install -r requirements.txt"},
          {"run": ["make", "install"], "env": {"CC": "gcc"}, "workdir": "/src", "user": "1000:1000",
           "network": "host", "cache": ["/root/.cache/pip", "/var/cache/apt"]}
        ]}
        """)
        #expect(manifest.epoch == 1_700_000_000)
        #expect(manifest.steps == [
            .run(Manifest.RunStep(command: .shell("pip install -r requirements.txt"))),
            .run(Manifest.RunStep(command: .argv(["make", "install"]), env: ["CC": "gcc"], workdir: "/src", user: "1000:1000",
                                  network: .host, cache: ["/root/.cache/pip", "/var/cache/apt"])),
        ])
        #expect(manifest.stepLocations.map(\.line) == [2, 3])
        #expect(manifest.steps[0].summary == "run: pip install -r requirements.txt")
        #expect(Manifest.RunStep.Command.shell("a\n  b  \n\nc").summary == "a; b; c")
        #expect(Manifest.RunStep.Command.shell(String(repeating: "x", count: 80)).summary.count == 60)
    }

    @Test func badRunStepsAreLocated() {
        #expect(message(#"{"steps": [{"run": ""}]}"#) == "m.json:1:20: steps[0].run: is an empty command (a shell command such as \"make install\", or a command and its arguments such as [\"make\", \"install\"])")
        #expect(message(#"{"steps": [{"run": []}]}"#).hasPrefix("m.json:1:20: steps[0].run: is empty"))
        #expect(message(#"{"steps": [{"run": 3}]}"#).hasPrefix("m.json:1:20: steps[0].run: is a number"))
        #expect(message(#"{"steps": [{"run": ["", "x"]}]}"#).hasPrefix("m.json:1:21: steps[0].run[0]: is empty"))
        #expect(message(#"{"steps": [{"run": "x", "network": "bridge"}]}"#).hasPrefix("m.json:1:36: steps[0].network: \"bridge\" is not a network mode"))
        #expect(message(#"{"steps": [{"run": "x", "cache": ["cache"]}]}"#).hasPrefix("m.json:1:35: steps[0].cache[0]: \"cache\" is a relative path"))
        #expect(message(#"{"steps": [{"run": "x", "cache": ["/c", "/c"]}]}"#).contains("steps[0].cache[1]: \"/c\" is listed twice"))
        #expect(message(#"{"steps": [{"run": "x", "cache": ["/"]}]}"#).contains("steps[0].cache[0]: is the root"))
        #expect(message(#"{"steps": [{"run": "x", "user": "a:b:c"}]}"#).contains("steps[0].user: "))
        #expect(message(#"{"steps": [{"run": "x", "workdir": "w"}]}"#).contains("steps[0].workdir: \"w\" is a relative path"))
        #expect(message(#"{"steps": [{"run": "x", "env": {"A=B": "c"}}]}"#).contains("steps[0].env.A=B: \"A=B\" is not a valid variable name"))
        #expect(message(#"{"steps": [{"run": "x", "mounts": []}]}"#).contains("steps[0].mounts: unknown field \"mounts\""))
        #expect(message(#"{"steps": [{"tar": "x.tar", "env": {}}]}"#).contains("steps[0].env: \"env\" belongs to a \"run\" step"))
        #expect(message(#"{"steps": [{"tar": "x.tar", "run": "x"}]}"#).contains("steps[0]: has more than one kind of step"))
        #expect(message(#"{"steps": [{"env": {}}]}"#).contains("steps[0]: is an empty step"))
        #expect(message(#"{"epoch": -1}"#).hasPrefix("m.json:1:11: epoch: is a number out of range"))
        #expect(message(#"{"epoch": "1"}"#).hasPrefix("m.json:1:11: epoch: is a string"))
    }

    @Test func lockfilesKeepRunStepsAndMarkTheUnreproducible() throws {
        let digest = Digest.sha256(of: [1])
        let lockfile = Lockfile(manifestDigest: digest, platform: Platform(os: "linux", architecture: "amd64"), base: .scratch, steps: [
            .run(Manifest.RunStep(command: .shell("make"), env: ["A": "b"], workdir: "/src", user: "app", network: .host, cache: ["/c"])),
            .run(Manifest.RunStep(command: .argv(["true"]))),
        ])
        let text = String(decoding: lockfile.encoded(), as: UTF8.self)
        #expect(text.contains(#""reproducible": false"#) && text.contains(#""reproducible": true"#))
        #expect(try Lockfile.decode(lockfile.encoded(), file: "l.json") == lockfile)
        #expect(lockfile.snapshotID == nil && !lockfile.isFullyPinned && lockfile.pinnedLayers.isEmpty)
        #expect(lockfile.steps.map(\.summary) == ["run: make", "run: true"])
    }

    @Test func aRunStepKeyFollowsTheLayersBelowAndTheDefinition() {
        let a = Digest.sha256(of: [1]), b = Digest.sha256(of: [2])
        let key = LayerKeys.runStep(below: [a], definition: Array("x".utf8))
        #expect(key == LayerKeys.runStep(below: [a], definition: Array("x".utf8)))
        #expect(key != LayerKeys.runStep(below: [b], definition: Array("x".utf8)))
        #expect(key != LayerKeys.runStep(below: [a], definition: Array("y".utf8)))
        #expect(key != LayerKeys.runStep(below: [a, b], definition: Array("x".utf8)))
    }
}

import Testing

/// Every bad manifest is refused with one `FILE:LINE:COL: path: problem` line and exit 2.
@Suite struct ManifestErrorTests {
    static let cases: [(name: String, text: String, expected: String)] = [
        ("unknown-field", """
        {
          "from": "scratch",
          "stepz": []
        }
        """, "envs/unknown-field.json:3:12: stepz: unknown field \"stepz\""),
        ("wrong-type", """
        {
          "workdir": 5
        }
        """, "envs/wrong-type.json:2:14: workdir: is a number (an absolute path"),
        ("relative-target", """
        {
          "mounts": [
            {"type": "bind", "source": ".", "target": "work"}
          ]
        }
        """, "envs/relative-target.json:3:47: mounts[0].target: \"work\" is a relative path"),
        ("relative-copy", """
        {"steps": [{"copy": {"from": "x", "to": "opt/x"}}]}
        """, "envs/relative-copy.json:1:41: steps[0].copy.to: \"opt/x\" is a relative path"),
        ("two-kinds", """
        {"steps": [{"copy": {"from": "x", "to": "/x"}, "tar": "y.tar"}]}
        """, "envs/two-kinds.json:1:12: steps[0]: has more than one kind of step"),
        ("bad-network", """
        {"network": "bridge"}
        """, "envs/bad-network.json:1:13: network: \"bridge\" is not a network mode (\"none\" or \"host\")"),
        ("bad-from", """
        {"from": {"image": "Alpine Linux"}}
        """, "envs/bad-from.json:1:20: from.image: \"Alpine Linux\" is not an image name"),
        ("shell-not-array", """
        {"shell": "/bin/sh"}
        """, "envs/shell-not-array.json:1:11: shell: is a string (an array)"),
        ("env-not-string", """
        {"env": {"A": 1}}
        """, "envs/env-not-string.json:1:15: env.A: is a number (a string)"),
        ("unknown-mount-field", """
        {"mounts": [{"type": "tmpfs", "target": "/t", "size": 5}]}
        """, "envs/unknown-mount-field.json:1:55: mounts[0].size: unknown field \"size\""),
        ("not-an-object", """
        ["scratch"]
        """, "envs/not-an-object.json:1:1: $: is an array (an object)"),
    ]

    @Test(arguments: 0..<cases.count)
    func refused(_ index: Int) throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let item = Self.cases[index]
        try harness.manifest(item.name, item.text)
        let result = harness.strata(["lock", item.name])
        #expect(result.status == 2, "\(item.name): \(result.stderr)")
        #expect(result.stderr.contains(item.expected), "\(item.name): got \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!result.stderr.contains("Swift"), "no raw Swift error: \(result.stderr)")
    }

    @Test func duplicateKeyNamesTheKey() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("dup", "{\n  \"env\": {\"A\": \"1\",\n    \"A\": \"2\"}\n}\n")
        let result = harness.strata(["lock", "dup"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("envs/dup.json:3:"), "\(result.stderr)")
        #expect(result.stderr.contains("duplicate key \"A\""), "\(result.stderr)")
    }

    @Test func syntaxErrorHasLineAndColumn() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        try harness.manifest("comma", "{\n  \"shell\": [\"/bin/sh\",],\n}\n")
        let result = harness.strata(["lock", "comma"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("envs/comma.json:2:"), "\(result.stderr)")
        #expect(result.stderr.contains("(strict JSON)"), "\(result.stderr)")
    }

    @Test func missingEnvironmentIsAUsageError() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let result = harness.strata(["run", "nope", "--", "true"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("envs/nope.json does not exist"), "\(result.stderr)")
    }

    @Test func badFlagIsAUsageError() throws {
        let harness = try Harness()
        defer { harness.cleanup() }
        let result = harness.strata(["lock", "--bogus"])
        #expect(result.status == 2)
    }
}

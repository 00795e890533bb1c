import Testing
@testable import StrataModel

@Suite struct VolumeManifestTests {
    func decode(_ text: String) throws(ManifestError) -> Manifest {
        try Manifest.decode(Array(text.utf8), file: "m.json")
    }

    func message(_ text: String) -> String {
        do { _ = try decode(text); return "accepted" } catch { return error.description }
    }

    @Test func volumeMounts() throws {
        let manifest = try decode("""
        {"mounts": [
          {"type": "volume", "name": "pip-cache", "target": "/root/.cache/pip"},
          {"type": "volume", "name": "A1_b.c-d", "target": "/data"},
          {"type": "tmpfs", "target": "/tmp"}
        ]}
        """)
        #expect(manifest.mounts == [
            .volume(name: "pip-cache", target: "/root/.cache/pip"),
            .volume(name: "A1_b.c-d", target: "/data"),
            .tmpfs(target: "/tmp"),
        ])
    }

    @Test func badVolumesAreLocated() {
        #expect(message(#"{"mounts": [{"type": "volume", "name": "-x", "target": "/d"}]}"#)
            == "m.json:1:40: mounts[0].name: \"-x\" is not a valid volume name (a volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters)")
        #expect(message(#"{"mounts": [{"type": "volume", "name": "a/b", "target": "/d"}]}"#).hasPrefix("m.json:1:40: mounts[0].name: \"a/b\" is not a valid volume name"))
        #expect(message(#"{"mounts": [{"type": "volume", "name": 3, "target": "/d"}]}"#).hasPrefix("m.json:1:40: mounts[0].name: is a number"))
        #expect(message(#"{"mounts": [{"type": "volume", "target": "/d"}]}"#).hasPrefix("m.json:1:13: mounts[0]: has no \"name\""))
        #expect(message(#"{"mounts": [{"type": "volume", "name": "v"}]}"#).hasPrefix("m.json:1:13: mounts[0]: has no \"target\""))
        #expect(message(#"{"mounts": [{"type": "volume", "name": "v", "target": "d"}]}"#).hasPrefix("m.json:1:55: mounts[0].target: \"d\" is a relative path"))
        #expect(message(#"{"mounts": [{"type": "volume", "name": "v", "target": "/d", "source": "x"}]}"#).contains("mounts[0].source: unknown field \"source\""))
        #expect(message(#"{"mounts": [{"type": "nfs", "target": "/x"}]}"#).contains("(\"bind\", \"tmpfs\" or \"volume\")"))
    }

    @Test(arguments: ["a", "A", "0", "a.b", "a_b-c", String(repeating: "v", count: 128)])
    func validNames(name: String) { #expect(Manifest.Mount.isValidVolumeName(name)) }

    @Test(arguments: ["", ".", "..", ".a", "-a", "_a", "a/b", "a b", "a:b", "a,b", "ä", String(repeating: "v", count: 129)])
    func invalidNames(name: String) { #expect(!Manifest.Mount.isValidVolumeName(name)) }
}

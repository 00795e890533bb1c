import Testing
import StrataJSON
@testable import StrataModel

@Suite struct ManifestTests {
    func decode(_ text: String) throws(ManifestError) -> Manifest {
        try Manifest.decode(Array(text.utf8), file: "m.json")
    }

    @Test func fullManifest() throws {
        let manifest = try decode("""
        {
          "from": {"image": "oci:../images/base:v1.2"},
          "steps": [{"copy": {"from": "./files", "to": "/opt/tools"}}, {"tar": "rootfs.tar.zst"}],
          "env": {"LANG": "C.UTF-8", "EMPTY": ""},
          "workdir": "/work",
          "shell": ["/bin/bash", "-l"],
          "hostname": "dev-box",
          "network": "host",
          "mounts": [
            {"type": "bind", "source": ".", "target": "/work", "readonly": true},
            {"type": "bind", "source": "/var/cache", "target": "/cache"},
            {"type": "tmpfs", "target": "/tmp/x"}
          ]
        }
        """)
        #expect(manifest.base == .ociLayout(directory: "../images/base", tag: "v1.2"))
        #expect(manifest.steps == [.copy(from: "./files", to: "/opt/tools"), .tar("rootfs.tar.zst")])
        #expect(manifest.env == ["LANG": "C.UTF-8", "EMPTY": ""])
        #expect(manifest.workdir == "/work")
        #expect(manifest.shell == ["/bin/bash", "-l"])
        #expect(manifest.hostname == "dev-box")
        #expect(manifest.network == .host)
        #expect(manifest.mounts == [
            .bind(source: ".", target: "/work", readOnly: true),
            .bind(source: "/var/cache", target: "/cache", readOnly: false),
            .tmpfs(target: "/tmp/x"),
        ])
    }

    @Test func defaults() throws {
        let manifest = try decode("{}")
        #expect(manifest == Manifest())
        #expect(try decode(#"{"from": "scratch"}"#).base == .scratch)
        #expect(try decode(#"{"from": {"image": "oci:layout"}}"#).base == .ociLayout(directory: "layout", tag: nil))
    }

    @Test func errorsPointAtTheValue() {
        func message(_ text: String) -> String {
            do { _ = try decode(text); return "accepted" } catch { return error.description }
        }
        #expect(message("{\n  \"workdir\": \"rel\"\n}") == "m.json:2:14: workdir: \"rel\" is a relative path (an absolute path such as \"/work\")")
        #expect(message(#"{"steps": [{}]}"#) == "m.json:1:12: steps[0]: is an empty step (exactly one of \"copy\", \"tar\" or \"run\")")
        #expect(message(#"{"steps": [{"copy": {"from": "a"}}]}"#).hasPrefix("m.json:1:21: steps[0].copy: has no \"to\""))
        #expect(message(#"{"mounts": [{"type": "nfs", "target": "/x"}]}"#).hasPrefix("m.json:1:22: mounts[0].type: \"nfs\" is not a mount type"))
        #expect(message(#"{"hostname": "bad host"}"#).hasPrefix("m.json:1:14: hostname: \"bad host\" is not a valid host name"))
        #expect(message(#"{"workdir": "/a/../b"}"#).contains("contains \"..\""))
        #expect(message(#"{"from": {"image": "oci:dir:bad tag"}}"#).contains("invalid tag"))
    }
}

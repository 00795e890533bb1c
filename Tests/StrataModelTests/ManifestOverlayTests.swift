import StrataJSON
import Testing
@testable import StrataModel

@Suite struct ManifestOverlayTests {
    func overlay(_ text: String) throws -> Manifest {
        try Manifest.decodeOverlay(try JSON.parse(Array(text.utf8)), source: "the command line")
    }

    @Test func sessionSettingsReplaceMergeOrAddUp() throws {
        let manifest = try Manifest.decode(Array(#"""
        {"from": "scratch", "env": {"A": "1", "B": "2"}, "workdir": "/w", "mounts": [{"type": "tmpfs", "target": "/t"}],
         "security": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["CHOWN"]}}, "limits": {"memory": "1g", "pids": 10}}
        """#.utf8), file: "m.json")
        let flags = try overlay(#"""
        {"env": {"B": "flag", "C": "3"}, "mounts": [{"type": "volume", "name": "v", "target": "/t"}],
         "security": {"capabilities": {"add": ["CHOWN"], "drop": ["NET_ADMIN"]}, "readonlyRoot": true}, "limits": {"cpus": 1.5}}
        """#)
        let session = manifest.overriding(with: flags)
        #expect(session.env == ["A": "1", "B": "flag", "C": "3"])
        #expect(session.workdir == "/w", "what the flags leave out stays")
        #expect(session.mounts == [.volume(name: "v", target: "/t")], "a mount on the same target replaces the manifest's")
        #expect(session.security?.capabilitiesAdd == .only([.chown]) && session.security?.capabilitiesDrop == .only([.netAdmin]),
                "the flag's word wins: \(String(describing: session.security))")
        #expect(session.security?.readonlyRoot == true)
        #expect(session.limits == Manifest.Limits(memoryBytes: 1 << 30, pids: 10, cpus: 1.5))
        #expect(session.base == manifest.base && session.steps == manifest.steps)
        #expect(manifest.overriding(with: try overlay(#"{"security": {"capabilities": {"drop": ["ALL"]}}}"#)).security?.capabilitiesDrop == .all)
    }

    @Test func onlySessionSettingsAndTheManifestsOwnChecks() throws {
        #expect { try overlay(#"{"packages": ["git"]}"#) } throws: { "\($0)".contains("packages: is not a setting of one session") }
        #expect { try overlay(#"{"limits": {"memory": "5x"}}"#) } throws: { ($0 as? ManifestError)?.path.description == "limits.memory" }
        #expect { try overlay(#"{"workdir": "relative"}"#) } throws: { ($0 as? ManifestError)?.problem.contains("relative path") == true }
    }
}

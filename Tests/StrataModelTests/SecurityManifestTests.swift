import Testing
import StrataJSON
@testable import StrataModel

@Suite struct SecurityManifestTests {
    func decode(_ text: String) throws(ManifestError) -> Manifest {
        try Manifest.decode(Array(text.utf8), file: "m.json")
    }

    func message(_ text: String) -> String {
        do { _ = try decode(text); return "accepted" } catch { return error.description }
    }

    @Test func allFields() throws {
        let manifest = try decode("""
        {
          "user": "app:staff",
          "security": {
            "capabilities": {"add": ["NET_ADMIN", "cap_sys_ptrace"], "drop": ["Cap_Mknod", "net_raw"]},
            "seccomp": "profiles/strict.json",
            "noNewPrivileges": false,
            "readonlyRoot": true
          },
          "limits": {"memory": "2g", "pids": 512, "cpus": 1.5, "nofile": 4096}
        }
        """)
        #expect(manifest.user == "app:staff")
        #expect(manifest.security == Manifest.Security(
            capabilitiesAdd: .only([.netAdmin, .sysPtrace]), capabilitiesDrop: .only([.mknod, .netRaw]),
            seccomp: .profile(path: "profiles/strict.json"), noNewPrivileges: false, readonlyRoot: true))
        #expect(manifest.limits == Manifest.Limits(memoryBytes: 2 << 30, pids: 512, cpus: 1.5, nofile: 4096))
        #expect(manifest == Manifest(user: "app:staff", security: manifest.security, limits: manifest.limits))
    }

    @Test func absentAndEmptySections() throws {
        let bare = try decode("{}")
        #expect(bare.user == nil && bare.security == nil && bare.limits == nil)
        let empty = try decode(#"{"security": {}, "limits": {}}"#)
        #expect(empty.security == Manifest.Security())
        #expect(empty.security?.capabilitiesAdd.isEmpty == true)
        #expect(empty.limits == Manifest.Limits())
        #expect(try decode(#"{"security": {"capabilities": {}}}"#).security == Manifest.Security())
    }

    @Test func userSpecs() throws {
        for spec in ["app", "1000", "1000:1000", "app:staff", "1000:staff", "app:50", "4294967294:0", "user.name-1_x"] {
            #expect(try decode("{\"user\": \"\(spec)\"}").user == spec)
        }
        #expect(message(#"{"user": "a:b:c"}"#) == #"m.json:1:10: user: "a:b:c" has more than one ":" (NAME or UID, optionally followed by ":GROUP" or ":GID", such as "1000:1000")"#)
        #expect(message(#"{"user": "1000:"}"#).contains(#""1000:" has an empty group"#))
        #expect(message(#"{"user": ":1000"}"#).contains("has an empty user"))
        #expect(message(#"{"user": "4294967295"}"#).contains("has a user id above 4294967294"))
        #expect(message(#"{"user": "0:99999999999999999999"}"#).contains("has a group id above 4294967294"))
        #expect(message(#"{"user": "-1"}"#).contains(#"has a user starting with "-""#))
        #expect(message(#"{"user": "a\nb"}"#).contains(#""a\nb" contains a control character"#))
        #expect(message(#"{"user": "a\u0000b"}"#).contains("contains a control character"))
        #expect(message(#"{"user": ""}"#).contains("user: is empty"))
        #expect(message(#"{"user": 1000}"#).contains("user: is a number (NAME or UID"))
    }

    @Test func capabilityNamesAsDockerAcceptsThem() throws {
        let security = try decode(#"{"security": {"capabilities": {"add": ["net_admin", "CAP_SYS_ADMIN", "Cap_Bpf", "checkpoint_restore"], "drop": ["all"]}}}"#).security
        #expect(security?.capabilitiesAdd == .only([.netAdmin, .sysAdmin, .bpf, .checkpointRestore]))
        #expect(security?.capabilitiesDrop == .all)
        #expect(try decode(#"{"security": {"capabilities": {"add": ["ALL"], "drop": ["NET_RAW"]}}}"#).security?.capabilitiesAdd == .all)
    }

    @Test func capabilityErrors() {
        let unknown = message(#"{"security": {"capabilities": {"add": ["NET_ADMIN", "NET_FOO"]}}}"#)
        #expect(unknown.hasPrefix(#"m.json:1:53: security.capabilities.add[1]: "NET_FOO" is not a capability (a capability such as "NET_ADMIN" or "CAP_NET_ADMIN", or "ALL"; known: CHOWN, DAC_OVERRIDE, "#))
        #expect(unknown.hasSuffix("BPF, CHECKPOINT_RESTORE)"))
        #expect(message(#"{"security": {"capabilities": {"add": ["CAP_ALL"]}}}"#).contains("is not a capability"))
        #expect(message(#"{"security": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["KILL", "cap_net_admin"]}}}"#)
            == #"m.json:1:71: security.capabilities.drop[1]: "cap_net_admin" is also in "add" (each capability either added or dropped)"#)
        #expect(message(#"{"security": {"capabilities": {"add": ["ALL"], "drop": ["all"]}}}"#).contains(#"drop[0]: "all" is also in "add""#))
        #expect(message(#"{"security": {"capabilities": {"drop": ["KILL", "CAP_KILL"]}}}"#).contains(#"drop[1]: "CAP_KILL" repeats "KILL" (each capability once)"#))
        #expect(message(#"{"security": {"capabilities": {"add": ["ALL", "KILL"]}}}"#).contains(#"add[1]: "ALL" and single capabilities are listed together"#))
        #expect(message(#"{"security": {"capabilities": {"add": ["KILL", "ALL"]}}}"#).contains(#"add[1]: "ALL" and single"#))
        #expect(message(#"{"security": {"capabilities": {"add": "KILL"}}}"#).contains("add: is a string (an array)"))
        #expect(message(#"{"security": {"capabilities": {"add": [12]}}}"#).contains("add[0]: is a number (a capability such as"))
        #expect(message(#"{"security": {"capabilities": {"keep": []}}}"#).contains(#"capabilities.keep: unknown field "keep" (one of "add", "drop")"#))
        #expect(message(#"{"security": {"privileged": true}}"#).contains(#"security.privileged: unknown field "privileged""#))
    }

    @Test func seccompAndFlags() throws {
        #expect(try decode(#"{"security": {"seccomp": "default"}}"#).security?.seccomp == .default)
        #expect(try decode(#"{"security": {"seccomp": "unconfined"}}"#).security?.seccomp == .unconfined)
        #expect(try decode(#"{"security": {"seccomp": "/etc/strata/seccomp.json"}}"#).security?.seccomp == .profile(path: "/etc/strata/seccomp.json"))
        #expect(try decode(#"{"security": {"noNewPrivileges": true}}"#).security == Manifest.Security(noNewPrivileges: true))
        #expect(message(#"{"security": {"seccomp": ""}}"#).contains("security.seccomp: is empty"))
        #expect(message(#"{"security": {"seccomp": false}}"#).contains(#"is a boolean ("default", "unconfined" or the path of a profile)"#))
        #expect(message(#"{"security": {"readonlyRoot": "yes"}}"#).contains("security.readonlyRoot: is a string (true or false)"))
    }

    @Test func memory() throws {
        func bytes(_ json: String) throws -> UInt64? { try decode("{\"limits\": {\"memory\": \(json)}}").limits?.memoryBytes }
        #expect(try bytes(#""2g""#) == 2 << 30)
        #expect(try bytes(#""512M""#) == 512 << 20)
        #expect(try bytes(#""4096k""#) == 4 << 20)
        #expect(try bytes(#""1T""#) == 1 << 40)
        #expect(try bytes(#""8388608b""#) == 8 << 20)
        #expect(try bytes(#""8388608""#) == 8 << 20)
        #expect(try bytes("1073741824") == 1 << 30)
        #expect(try bytes("4194304") == 4 << 20)
        #expect(message(#"{"limits": {"memory": "3m"}}"#)
            == #"m.json:1:23: limits.memory: "3m" is less than strata's minimum of 4 MiB (at least "4m"; Docker's own minimum is "6m")"#)
        #expect(message(#"{"limits": {"memory": "100k"}}"#).contains("less than strata's minimum of 4 MiB"))
        #expect(message(#"{"limits": {"memory": 4194303}}"#).contains("4194303 is less than"))
        #expect(message(#"{"limits": {"memory": 0}}"#).contains("0 is not positive"))
        #expect(message(#"{"limits": {"memory": -1}}"#).contains("-1 is not positive"))
        #expect(message(#"{"limits": {"memory": 1.5e9}}"#).contains("is not a whole number of bytes"))
        for bad in ["1.5g", "2gb", "2 g", "g", "", "-5m", "5p", "0x10m", "５m"] {
            #expect(message("{\"limits\": {\"memory\": \"\(bad)\"}}").contains("is not a size (a size such as \"512m\""), "\(bad)")
        }
        #expect(message(#"{"limits": {"memory": "9999999t"}}"#).contains(#""9999999t" is too large (at most 9223372036854775807 bytes"#))
        #expect(message(#"{"limits": {"memory": "99999999999999999999999"}}"#).contains("is too large"))
        #expect(message(#"{"limits": {"memory": true}}"#).contains("limits.memory: is a boolean"))
    }

    @Test func pidsCpusNofile() throws {
        #expect(try decode(#"{"limits": {"pids": 1, "cpus": 2, "nofile": 1048576}}"#).limits == Manifest.Limits(pids: 1, cpus: 2, nofile: 1_048_576))
        #expect(try decode(#"{"limits": {"cpus": 0.001}}"#).limits?.cpus == 0.001)
        #expect(try decode(#"{"limits": {"cpus": 2.125}}"#).limits?.cpus == 2.125)
        #expect(try decode(#"{"limits": {"pids": 4194304}}"#).limits?.pids == 4_194_304)
        #expect(message(#"{"limits": {"pids": -1}}"#)
            == #"m.json:1:21: limits.pids: -1 is out of range (a whole number from 1 to 4194304; leave "pids" out for no limit)"#)
        #expect(message(#"{"limits": {"pids": 0}}"#).contains("0 is out of range"))
        #expect(message(#"{"limits": {"pids": 4194305}}"#).contains("is out of range"))
        #expect(message(#"{"limits": {"pids": 1.5}}"#).contains("limits.pids: is not a whole number"))
        #expect(message(#"{"limits": {"pids": "512"}}"#).contains("limits.pids: is a string"))
        #expect(message(#"{"limits": {"cpus": 0}}"#).contains("limits.cpus: 0.0 is out of range"))
        #expect(message(#"{"limits": {"cpus": -1.5}}"#).contains("is out of range"))
        #expect(message(#"{"limits": {"cpus": 8193}}"#).contains("is out of range (a number of CPUs above 0 and at most 8192"))
        #expect(message(#"{"limits": {"cpus": 1.2345}}"#).contains("1.2345 has more than 3 decimals"))
        #expect(message(#"{"limits": {"cpus": 0.0005}}"#).contains("has more than 3 decimals"))
        #expect(message(#"{"limits": {"cpus": "1.5"}}"#).contains("limits.cpus: is a string"))
        #expect(message(#"{"limits": {"nofile": 0}}"#).contains("limits.nofile: 0 is out of range (a whole number from 1 to 1048576"))
        #expect(message(#"{"limits": {"nofile": 1048577}}"#).contains("is out of range"))
        #expect(message(#"{"limits": {"swap": 1}}"#).contains(#"limits.swap: unknown field "swap" (one of "memory", "pids", "cpus", "nofile")"#))
    }

    @Test func capabilityTable() {
        #expect(Capability.allCases.count == 41)
        #expect(Capability.chown.rawValue == 0 && Capability.chown.name == "CAP_CHOWN")
        #expect(Capability.sysAdmin.rawValue == 21 && Capability.sysAdmin.name == "CAP_SYS_ADMIN")
        #expect(Capability.checkpointRestore.rawValue == 40 && Capability.checkpointRestore.name == "CAP_CHECKPOINT_RESTORE")
        for capability in Capability.allCases {
            #expect(Capability(name: capability.name) == capability)
            #expect(Capability(name: capability.shortName.lowercased()) == capability)
        }
        #expect(Capability(name: "ALL") == nil)
        #expect(Capability(name: "CAP_") == nil)
        #expect(Capability.dockerDefault.map(\.shortName) == [
            "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
            "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
        ])
    }

    @Test func effectiveCapabilitiesFollowDocker() {
        let defaults = Capability.dockerDefault.sorted()
        #expect(Capability.effective(add: .only([]), drop: .only([])) == defaults)
        #expect(Capability.effective(add: .only([.netAdmin]), drop: .only([.netRaw, .mknod]))
            == (defaults.filter { $0 != .netRaw && $0 != .mknod } + [.netAdmin]).sorted())
        // Drop ALL, then add X: only X.
        #expect(Capability.effective(add: .only([.netBindService]), drop: .all) == [.netBindService])
        #expect(Capability.effective(add: .only([]), drop: .all) == [])
        // Add ALL: every capability, minus what is dropped.
        #expect(Capability.effective(add: .all, drop: .only([])) == Capability.allCases)
        #expect(Capability.effective(add: .all, drop: .only([.sysAdmin])) == Capability.allCases.filter { $0 != .sysAdmin })
        // Adding one already in the default set changes nothing.
        #expect(Capability.effective(add: .only([.kill, .chown]), drop: .only([])) == defaults)
        #expect(Manifest.Security(capabilitiesDrop: .all).effectiveCapabilities == [])
    }
}

import StrataJSON
import StrataModel
import Testing
@testable import StrataSeccomp

@Suite struct SeccompProfileTests {
    func decode(_ text: String) throws(SeccompError) -> SeccompProfile {
        try SeccompProfile.decode(Array(text.utf8), file: "custom.json")
    }

    /// The error for `text`, which must not decode.
    func failure(_ text: String) -> SeccompError? {
        do {
            _ = try decode(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func decodesEveryField() throws {
        let profile = try decode("""
            {
              "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
              "flags": ["SECCOMP_FILTER_FLAG_LOG"],
              "comment": "ignored", "listenerPath": "", "listenerMetadata": "",
              "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "ignored"},
                {"name": "kill", "action": "SCMP_ACT_TRACE", "errnoRet": 5},
                {"names": ["clone"], "action": "SCMP_ACT_KILL",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                 "includes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["amd64"], "minKernel": "4.8"},
                 "excludes": {"caps": ["CAP_BPF"], "arches": ["s390x"], "minKernel": "6.1"}},
                {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "errnoRet": null, "args": null,
                 "includes": null, "excludes": {}},
                {"names": ["a"], "action": "SCMP_ACT_TRAP"}, {"names": ["b"], "action": "SCMP_ACT_LOG"},
                {"names": ["c"], "action": "SCMP_ACT_KILL_THREAD"}, {"names": ["d"], "action": "SCMP_ACT_ERRNO"}
              ]
            }
            """)
        #expect(profile.defaultAction == .errno(38))
        #expect(profile.architectures == [.x86_64, .x86])
        #expect(profile.architectureMap.isEmpty)
        #expect(profile.flags == ["SECCOMP_FILTER_FLAG_LOG"])
        #expect(profile.rules.map(\.names) == [["read", "write"], ["kill"], ["clone"], ["personality"], ["a"], ["b"], ["c"], ["d"]])
        #expect(profile.rules.map(\.action) == [.allow, .trace(5), .killThread, .killProcess, .trap, .log, .killThread, .errno(1)])
        let clone = profile.rules[2]
        #expect(clone.arguments == [SeccompArgument(index: 0, value: 2_114_060_288, valueTwo: 0, op: .maskedEqual)])
        #expect(clone.includes == SeccompCondition(capabilities: ["CAP_SYS_ADMIN"], architectures: ["amd64"],
                                                   minimumKernel: KernelVersion(major: 4, minor: 8)))
        #expect(clone.excludes == SeccompCondition(capabilities: ["CAP_BPF"], architectures: ["s390x"],
                                                   minimumKernel: KernelVersion(major: 6, minor: 1)))
        #expect(profile.rules[3].includes.isEmpty && profile.rules[3].excludes.isEmpty)
    }

    @Test func decodesArchMapWithNullSubArchitectures() throws {
        let profile = try decode("""
            {"defaultAction": "SCMP_ACT_ALLOW", "archMap": [
              {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
              {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}]}
            """)
        #expect(profile.architectureMap == [
            ArchitectureMapping(architecture: .x86_64, subArchitectures: [.x86, .x32]),
            ArchitectureMapping(architecture: .riscv64, subArchitectures: []),
        ])
        #expect(profile.architectures(native: .x86_64) == [.x86_64, .x86, .x32])
        #expect(profile.architectures(native: .aarch64) == [])
        #expect(profile.rules.isEmpty)
    }

    /// Each mistake is reported once, as one sentence naming the file, the line and column,
    /// the JSON path and what would be accepted.
    @Test(arguments: [
        ("[]", "custom.json:1:1: $: is an array (expected an object)"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\",}", "custom.json:1:"),
        ("{\"syscalls\": []}", "custom.json:1:1: $: has no \"defaultAction\""),
        ("{\"defaultAction\": 1}", "custom.json:1:19: defaultAction: is a number (expected a string)"),
        ("{\"defaultAction\": \"SCMP_ACT_FOO\"}",
         "custom.json:1:19: defaultAction: \"SCMP_ACT_FOO\" is not a seccomp action (expected one of SCMP_ACT_ALLOW, "),
        ("{\"defaultAcion\": \"SCMP_ACT_ERRNO\"}",
         "custom.json:1:18: defaultAcion: is not a field of a seccomp profile here (expected one of \"defaultAction\""),
        ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}",
         "custom.json:1:56: defaultErrnoRet: is set for SCMP_ACT_ALLOW, which returns no errno"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}",
         "custom.json:1:56: defaultErrnoRet: 70000 is out of range (expected an errno number from 0 to 4095"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
         "custom.json:2:45: syscalls[0].action: SCMP_ACT_NOTIFY (a user-space notify agent) is not supported"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
            + "  \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQUAL\"}]}]}",
         "custom.json:3:43: syscalls[0].args[0].op: \"SCMP_CMP_EQUAL\" is not a comparison (expected one of SCMP_CMP_NE, "),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
            + "  \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
         "custom.json:3:22: syscalls[0].args[0].index: 6 is out of range (expected an argument index from 0 to 5"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
            + " \"args\": [{\"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
         "syscalls[0].args[0].value: -1 is out of range (expected a whole number from 0 to 9223372036854775807)"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
            + " \"args\": [{\"index\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
         "syscalls[0].args[0]: has no \"value\""),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"name\": \"read\", \"names\": [\"write\"],"
            + " \"action\": \"SCMP_ACT_ALLOW\"}]}",
         "syscalls[0].name: is given together with \"names\""),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ALLOW\"}]}",
         "syscalls[0]: names no syscall"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"Read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
         "syscalls[0].names[0]: \"Read\" is not a syscall name"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"]}]}",
         "syscalls[0]: has no \"action\""),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": {\"names\": [\"read\"]}}",
         "syscalls: is an object (expected an array)"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\"read\"]}",
         "syscalls[0]: is a string (expected an object)"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
            + " \"includes\": {\"minKernel\": \"4\"}}]}",
         "syscalls[0].includes.minKernel: \"4\" is not a kernel version (expected \"MAJOR.MINOR\" such as \"4.8\")"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
            + " \"excludes\": {\"caps\": [\"SYS_ADMIN\"]}}]}",
         "syscalls[0].excludes.caps[0]: \"SYS_ADMIN\" is not a capability name"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
            + " \"includes\": {\"capabilities\": [\"CAP_SYS_ADMIN\"]}}]}",
         "syscalls[0].includes.capabilities: is not a field of a seccomp profile here (expected one of \"caps\", \"arches\", \"minKernel\")"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"x86_64\"]}",
         "architectures[0]: \"x86_64\" is not a seccomp architecture"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\"],"
            + " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}",
         "archMap: is given together with \"architectures\""),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"archMap\": [{\"subArchitectures\": []}]}",
         "archMap[0]: has no \"architecture\""),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [\"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}",
         "flags[0]: \"SECCOMP_FILTER_FLAG_NEW_LISTENER\" is not a seccomp filter flag"),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultAction\": \"SCMP_ACT_ALLOW\"}",
         "custom.json:1:37: $: has the key \"defaultAction\" twice (expected each key once)"),
    ])
    func decodeErrorsNameFilePathAndFix(text: String, message: String) {
        guard let error = failure(text) else {
            Issue.record("decoded: \(text)")
            return
        }
        let description = error.description
        #expect(description.hasPrefix("custom.json:"), "\(description)")
        #expect(description.contains(message), "\(description)")
        #expect(!description.contains("\n"), "\(description)")
        guard case .invalidProfile = error else {
            Issue.record("not an invalid-profile error: \(description)")
            return
        }
    }

    @Test func dockerDefaultIsTheVendoredFile() {
        // Guards the literal against re-indentation: upstream's file is 13,470 bytes with tabs.
        let bytes = Array(SeccompProfile.dockerDefaultJSON.utf8)
        #expect(bytes.count == 13_470)
        #expect(Digest.sha256(of: bytes).hex == SeccompProfile.dockerDefaultDigest, "the digest cache keys name it by")
        #expect(bytes.first == UInt8(ascii: "{") && bytes.last == UInt8(ascii: "}"))
        #expect(bytes.filter { $0 == 0x09 }.count > 1_000)
        #expect(throws: Never.self) { try SeccompProfile.decode(bytes, file: "default.json") }
    }

    @Test func dockerDefaultContents() throws {
        let profile = SeccompProfile.dockerDefault
        #expect(profile.defaultAction == .errno(1))
        #expect(profile.architectures.isEmpty)
        #expect(profile.architectureMap.first == ArchitectureMapping(architecture: .x86_64, subArchitectures: [.x86, .x32]))
        #expect(profile.rules.count == 33)

        /// Names allowed whatever the capabilities, architecture, kernel and arguments.
        let unconditional = Set(profile.rules.filter {
            $0.action == .allow && $0.arguments.isEmpty && $0.includes.isEmpty && $0.excludes.isEmpty
        }.flatMap(\.names))
        #expect(unconditional.count == 361)
        for name in ["read", "write", "openat", "execve", "exit_group", "futex", "mmap", "rt_sigreturn"] {
            #expect(unconditional.contains(name), "\(name)")
        }
        for name in ["mount", "kexec_load", "init_module", "open_by_handle_at", "bpf", "clone", "clone3", "unshare",
                     "setns", "ptrace", "reboot", "socket", "personality", "chroot", "umount2", "pivot_root"] {
            #expect(!unconditional.contains(name), "\(name)")
        }
        // kexec_load and pivot_root appear nowhere: no capability allows them.
        #expect(!profile.rules.contains { $0.names.contains("kexec_load") || $0.names.contains("pivot_root") })

        let clone3 = try #require(profile.rules.first { $0.names == ["clone3"] })
        #expect(clone3.action == .errno(38))
        #expect(clone3.excludes.capabilities == ["CAP_SYS_ADMIN"])
        let ptrace = try #require(profile.rules.first { $0.names.contains("ptrace") })
        #expect(ptrace.includes.minimumKernel == KernelVersion(major: 4, minor: 8))
        let sockets = profile.rules.filter { $0.names == ["socket"] }.flatMap(\.arguments)
        #expect(sockets == [
            SeccompArgument(index: 0, value: 38, op: .lessThan), SeccompArgument(index: 0, value: 39, op: .equal),
            SeccompArgument(index: 0, value: 40, op: .greaterThan),
        ])
    }

    @Test func ruleSelectionFollowsMoby() {
        let rule = SeccompRule(
            names: ["x"], action: .allow,
            includes: SeccompCondition(capabilities: ["CAP_A", "CAP_B"], architectures: ["amd64", "x32"],
                                       minimumKernel: KernelVersion(major: 4, minor: 8)),
            excludes: SeccompCondition(capabilities: ["CAP_C", "CAP_D"]))
        let kernel = KernelVersion(major: 6, minor: 1)
        #expect(rule.applies(capabilities: ["CAP_A", "CAP_B"], architecture: "amd64", kernel: kernel))
        // includes.caps: all of them.
        #expect(!rule.applies(capabilities: ["CAP_A"], architecture: "amd64", kernel: kernel))
        // excludes.caps: any of them.
        #expect(!rule.applies(capabilities: ["CAP_A", "CAP_B", "CAP_D"], architecture: "amd64", kernel: kernel))
        #expect(!rule.applies(capabilities: ["CAP_A", "CAP_B"], architecture: "arm64", kernel: kernel))
        #expect(rule.applies(capabilities: ["CAP_A", "CAP_B"], architecture: "amd64", kernel: KernelVersion(major: 4, minor: 8)))
        #expect(!rule.applies(capabilities: ["CAP_A", "CAP_B"], architecture: "amd64", kernel: KernelVersion(major: 4, minor: 7)))
        #expect(!rule.applies(capabilities: ["CAP_A", "CAP_B"], architecture: "amd64", kernel: KernelVersion(major: 3, minor: 19)))

        let excluded = SeccompRule(names: ["y"], action: .allow,
                                   excludes: SeccompCondition(architectures: ["s390x"], minimumKernel: KernelVersion(major: 5, minor: 0)))
        #expect(excluded.applies(capabilities: [], architecture: "amd64", kernel: KernelVersion(major: 4, minor: 19)))
        #expect(!excluded.applies(capabilities: [], architecture: "amd64", kernel: KernelVersion(major: 5, minor: 0)))
        #expect(!excluded.applies(capabilities: [], architecture: "s390x", kernel: KernelVersion(major: 4, minor: 19)))
    }

    @Test func kernelVersionsParseAsMobyParsesThem() {
        #expect(KernelVersion(release: "6.18.44-fc-v595") == KernelVersion(major: 6, minor: 18))
        #expect(KernelVersion(release: "3.12-1-amd64") == KernelVersion(major: 3, minor: 12))
        #expect(KernelVersion(release: "4.8") == KernelVersion(major: 4, minor: 8))
        #expect(KernelVersion(release: "4") == nil)
        #expect(KernelVersion(release: "v4.8") == nil)
        #expect(KernelVersion(major: 4, minor: 10) > KernelVersion(major: 4, minor: 9))
        #expect(KernelVersion(major: 5, minor: 0) > KernelVersion(major: 4, minor: 20))
        let current = KernelVersion.current()
        #expect(current >= KernelVersion(major: 3, minor: 0))
    }
}

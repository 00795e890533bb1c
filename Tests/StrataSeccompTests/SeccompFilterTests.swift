import Testing
@testable import StrataSeccomp

/// Docker's default capability set (moby `oci/caps/defaults.go`).
let dockerCapabilities: Set<String> = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

/// Whether libseccomp's native architecture is x86_64, which some tests' profiles name.
private let nativeIsX86_64 = (try? SeccompFilter.nativeArchitecture()) == .x86_64

/// Compiles programs and asks the interpreter what they decide; nothing is ever loaded.
@Suite struct SeccompFilterTests {
    let kernel = KernelVersion(major: 6, minor: 1)

    /// What `program` returns for the native-architecture syscall `name`.
    func decision(_ program: SeccompProgram, _ name: String, _ args: [UInt64] = []) throws -> UInt32 {
        let native = try SeccompFilter.nativeArchitecture()
        let arch = try #require(SeccompFilter.token(of: native))
        let number = try #require(SeccompFilter.syscallNumber(name), "libseccomp knows \(name)")
        #expect(number >= 0, "\(name) is a native syscall")
        return try BPFInterpreter(program).run(arch: arch, nr: number, args: args)
    }

    func compile(_ text: String, capabilities: Set<String> = []) throws -> SeccompProgram {
        let profile = try SeccompProfile.decode(Array(text.utf8), file: "test.json")
        return try SeccompFilter.compile(profile, capabilities: capabilities, kernel: kernel)
    }

    @Test func dockerDefaultCompilesToWholeInstructions() throws {
        let program = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities, kernel: .current())
        #expect(!program.bytes.isEmpty)
        #expect(program.bytes.count % 8 == 0)
        #expect(program.instructionCount == program.bytes.count / 8)
        #expect(program.instructionCount <= SeccompProgram.maximumInstructions)
    }

    @Test func sameInputsGiveTheSameBytes() throws {
        let first = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities, kernel: kernel)
        let second = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities, kernel: kernel)
        // A set's order differs between instances; the program must not.
        let shuffled = Set(dockerCapabilities.shuffled())
        let third = try SeccompFilter.compile(.dockerDefault, capabilities: shuffled, kernel: kernel)
        #expect(first == second)
        #expect(first == third)
    }

    @Test func dockerDefaultDecisions() throws {
        let program = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities, kernel: kernel)
        let eperm = SeccompReturn.errno(1), allow = SeccompReturn.allow
        for name in ["read", "write", "openat", "execve", "exit_group", "chroot", "arch_prctl", "modify_ldt"] {
            #expect(try decision(program, name) == allow, "\(name)")
        }
        for name in ["mount", "umount2", "kexec_load", "init_module", "open_by_handle_at", "bpf", "unshare", "setns",
                     "pivot_root", "reboot", "sethostname", "perf_event_open", "iopl"] {
            #expect(try decision(program, name) == eperm, "\(name)")
        }
        // clone3 answers ENOSYS so that libc falls back to clone, which is checked for namespace flags.
        #expect(try decision(program, "clone3") == SeccompReturn.errno(38))
        let sigchld: UInt64 = 17, cloneNewNS: UInt64 = 0x0002_0000, cloneNewUser: UInt64 = 0x1000_0000
        #expect(try decision(program, "clone", [sigchld | 0x003d_0f00]) == allow)  // pthread_create's flags
        #expect(try decision(program, "clone", [sigchld | cloneNewNS]) == eperm)
        #expect(try decision(program, "clone", [sigchld | cloneNewUser]) == eperm)
        // socket: everything but AF_ALG (38) and AF_VSOCK (40).
        for family: UInt64 in [1, 2, 10, 16, 17, 39, 41, 44] {
            #expect(try decision(program, "socket", [family]) == allow, "family \(family)")
        }
        #expect(try decision(program, "socket", [38]) == eperm)
        #expect(try decision(program, "socket", [40]) == eperm)
        // personality: only the values Docker lists.
        for persona: UInt64 in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
            #expect(try decision(program, "personality", [persona]) == allow, "persona \(persona)")
        }
        #expect(try decision(program, "personality", [0x0040_0000]) == eperm)  // READ_IMPLIES_EXEC
        #expect(try decision(program, "ptrace") == allow)
    }

    @Test(.enabled(if: nativeIsX86_64, "checks the x86_64 entry of the archMap (x86, x32)"))
    func otherArchitecturesOfTheMapAreFilteredToo() throws {
        let program = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities, kernel: kernel)
        let interpreter = BPFInterpreter(program)
        let i386 = try #require(SeccompFilter.token(of: .x86))
        // x32 syscalls reach the filter as x86_64 ones with bit 30 set in the number.
        let x86_64 = try #require(SeccompFilter.token(of: .x86_64))
        #expect(try interpreter.run(arch: i386, nr: 3) == SeccompReturn.allow)  // read
        #expect(try interpreter.run(arch: i386, nr: 21) == SeccompReturn.errno(1))  // mount
        #expect(try interpreter.run(arch: x86_64, nr: 0x4000_0000) == SeccompReturn.allow)  // read
        #expect(try interpreter.run(arch: x86_64, nr: 0x4000_0000 + 165) == SeccompReturn.errno(1))  // mount
        // An architecture the profile does not list is killed, whatever the syscall.
        let aarch64 = try #require(SeccompFilter.token(of: .aarch64))
        #expect(try interpreter.run(arch: aarch64, nr: 63) == SeccompReturn.killThread)
    }

    @Test func capabilitiesChangeTheProgram() throws {
        let plain = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities, kernel: kernel)
        let admin = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities.union(["CAP_SYS_ADMIN"]),
                                              kernel: kernel)
        #expect(plain != admin)
        for name in ["mount", "umount2", "unshare", "setns", "sethostname", "bpf", "clone3", "fsopen", "move_mount"] {
            #expect(try decision(admin, name) == SeccompReturn.allow, "\(name)")
        }
        #expect(try decision(admin, "clone", [17 | 0x0002_0000]) == SeccompReturn.allow)
        #expect(try decision(admin, "kexec_load") == SeccompReturn.errno(1))
        #expect(try decision(admin, "init_module") == SeccompReturn.errno(1))

        let module = try SeccompFilter.compile(.dockerDefault, capabilities: ["CAP_SYS_MODULE"], kernel: kernel)
        #expect(try decision(module, "init_module") == SeccompReturn.allow)
        #expect(try decision(module, "chroot") == SeccompReturn.errno(1))

        let everything = Set(["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYSLOG", "CAP_BPF", "CAP_PERFMON", "CAP_SYS_BOOT",
                              "CAP_SYS_NICE", "CAP_SYS_TIME", "CAP_SYS_RAWIO", "CAP_DAC_READ_SEARCH"])
        let all = try SeccompFilter.compile(.dockerDefault, capabilities: everything, kernel: kernel)
        #expect(try decision(all, "open_by_handle_at") == SeccompReturn.allow)
        #expect(try decision(all, "kexec_load") == SeccompReturn.errno(1))
    }

    @Test func minKernelFollowsTheGivenKernel() throws {
        let old = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities,
                                            kernel: KernelVersion(major: 4, minor: 7))
        let new = try SeccompFilter.compile(.dockerDefault, capabilities: dockerCapabilities,
                                            kernel: KernelVersion(major: 4, minor: 8))
        #expect(try decision(old, "ptrace") == SeccompReturn.errno(1))
        #expect(try decision(new, "ptrace") == SeccompReturn.allow)
        #expect(try decision(old, "process_vm_readv") == SeccompReturn.errno(1))
    }

    @Test func unknownSyscallNamesAreSkipped() throws {
        let with = try compile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read", "no_such_syscall_strata", "write"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        let without = try compile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(with == without)
        #expect(try decision(with, "read") == SeccompReturn.allow)
    }

    @Test func errnoValuesAndRulesEqualToTheDefault() throws {
        let program = try compile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
              {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
            """)
        #expect(try decision(program, "read") == SeccompReturn.allow)
        #expect(try decision(program, "write") == SeccompReturn.errno(1))
        #expect(try decision(program, "mkdir") == SeccompReturn.errno(13))
        #expect(try decision(program, "rmdir") == SeccompReturn.errno(38))
        #expect(try decision(program, "getpid") == SeccompReturn.errno(38))

        let allowAll = try compile("""
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["mount"], "action": "SCMP_ACT_KILL_PROCESS"}]}
            """)
        #expect(try decision(allowAll, "read") == SeccompReturn.allow)
        #expect(try decision(allowAll, "mount") == 0x8000_0000)
    }

    @Test func comparisonsOfOneArgumentBecomeSeparateRules() throws {
        // As runc: two comparisons of argument 0 are ORed; comparisons of different arguments are ANDed.
        let program = try compile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]},
              {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]}]}
            """)
        #expect(try decision(program, "personality", [1]) == SeccompReturn.allow)
        #expect(try decision(program, "personality", [5]) == SeccompReturn.allow)
        #expect(try decision(program, "personality", [3]) == SeccompReturn.errno(1))
        #expect(try decision(program, "kill", [100, 15]) == SeccompReturn.allow)
        #expect(try decision(program, "kill", [100, 9]) == SeccompReturn.errno(1))
        #expect(try decision(program, "kill", [1, 15]) == SeccompReturn.errno(1))
    }

    @Test(.enabled(if: nativeIsX86_64, "the architectures listed are x86_64's"))
    func architecturesListAndUnsupportedArchitectures() throws {
        let program = try compile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
             "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        let interpreter = BPFInterpreter(program)
        #expect(try interpreter.run(arch: try #require(SeccompFilter.token(of: .x86)), nr: 3) == SeccompReturn.allow)
        let x86_64 = try #require(SeccompFilter.token(of: .x86_64))
        #expect(try interpreter.run(arch: x86_64, nr: 0x4000_0000) == SeccompReturn.killThread)  // x32's read

        // libseccomp 2.5.4 cannot filter LoongArch: asked for, it is an error, not a silent gap.
        if SeccompFilter.token(of: .loongarch64) == nil {
            let profile = SeccompProfile(defaultAction: .errno(1), architectures: [.x86_64, .loongarch64])
            #expect(throws: SeccompError.unsupportedArchitecture(.loongarch64)) {
                try SeccompFilter.compile(profile, capabilities: [], kernel: kernel)
            }
            #expect(SeccompError.unsupportedArchitecture(.loongarch64).description.contains("SCMP_ARCH_LOONGARCH64"))
        }
    }

    @Test func programsOverTheKernelLimitAreRefused() throws {
        // 4500 comparisons on one syscall compile to more than 4096 instructions.
        let arguments = (0..<4500).map { "{\"index\": 0, \"value\": \($0 * 3 + 1), \"op\": \"SCMP_CMP_EQ\"}" }
        let text = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\"], \"syscalls\": "
            + "[{\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [" + arguments.joined(separator: ",") + "]}]}"
        do {
            let program = try compile(text)
            Issue.record("compiled to \(program.instructionCount) instructions")
        } catch let error as SeccompError {
            guard case .programTooLarge(let count, 4096) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(count > 4096)
        }
    }
}

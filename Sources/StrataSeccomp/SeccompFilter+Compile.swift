import CSeccomp

extension SeccompFilter {
    /// Compiles a profile into the BPF program for a session with these effective
    /// capabilities (names such as `"CAP_SYS_ADMIN"`) on a kernel of this version.
    ///
    /// Which rules apply is decided as moby's `setupSeccomp` decides (see `SeccompCondition`);
    /// how they become libseccomp rules follows runc: rules whose action is the default
    /// action are dropped, syscall names this libseccomp does not know are skipped, two
    /// comparisons of the same argument make one rule each, and profiles with more than 32
    /// syscalls get libseccomp's binary-tree layout. The filter does not set `no_new_privs`
    /// (the sandbox decides) and does not synchronize threads (it is loaded in a fresh child).
    public static func compile(_ profile: SeccompProfile, capabilities: Set<String>,
                               kernel: KernelVersion) throws(SeccompError) -> SeccompProgram {
        let native = try nativeArchitecture()
        let rules = profile.rules.filter {
            $0.applies(capabilities: capabilities, architecture: native.dockerName, kernel: kernel)
        }
        let filter = try SeccompFilter(defaultAction: profile.defaultAction)
        try filter.setAttribute(SCMP_FLTATR_CTL_NNP, 0, name: "SCMP_FLTATR_CTL_NNP")
        try filter.setAttribute(SCMP_FLTATR_CTL_TSYNC, 0, name: "SCMP_FLTATR_CTL_TSYNC")
        for architecture in profile.architectures(native: native) {
            try filter.add(architecture)
        }
        // runc's threshold, counted as runc counts (one entry per name, known or not); libseccomp
        // 2.5.4 misbuilds a binary tree without rules, which this also avoids.
        if rules.reduce(0, { $0 + $1.names.count }) > 32 {
            try filter.setAttribute(SCMP_FLTATR_CTL_OPTIMIZE, 2, name: "SCMP_FLTATR_CTL_OPTIMIZE")
        }
        for rule in rules where rule.action != profile.defaultAction {
            for name in rule.names {
                guard let number = syscallNumber(name) else { continue }
                try filter.add(rule, syscall: number, name: name)
            }
        }
        let program = try filter.export()
        guard program.instructionCount <= SeccompProgram.maximumInstructions else {
            throw .programTooLarge(instructions: program.instructionCount, limit: SeccompProgram.maximumInstructions)
        }
        return program
    }

    private func add(_ rule: SeccompRule, syscall number: Int32, name: String) throws(SeccompError) {
        var perArgument = [Int](repeating: 0, count: 6)
        for argument in rule.arguments { perArgument[argument.index] += 1 }
        if perArgument.contains(where: { $0 > 1 }) {
            // libseccomp ANDs a rule's comparisons and refuses two on one argument; runc
            // falls back to one rule per comparison (which ORs them), and so do we.
            for argument in rule.arguments {
                try addRule(syscall: number, name: name, action: rule.action, comparisons: [argument])
            }
        } else {
            try addRule(syscall: number, name: name, action: rule.action, comparisons: rule.arguments)
        }
    }
}

extension SeccompProfile {
    /// The architectures the filter covers besides the native one: the flat list, or the
    /// native architecture's `archMap` entry with its sub-architectures.
    func architectures(native: SeccompArchitecture) -> [SeccompArchitecture] {
        if !architectures.isEmpty { return architectures }
        guard let entry = architectureMap.first(where: { $0.architecture == native }) else { return [] }
        return [entry.architecture] + entry.subArchitectures
    }
}

extension SeccompRule {
    /// moby's selection: excludes first (any match drops the rule), then includes (all must hold).
    func applies(capabilities: Set<String>, architecture: String, kernel: KernelVersion) -> Bool {
        if excludes.architectures.contains(architecture) { return false }
        if excludes.capabilities.contains(where: capabilities.contains) { return false }
        if let minimum = excludes.minimumKernel, kernel >= minimum { return false }
        if !includes.architectures.isEmpty && !includes.architectures.contains(architecture) { return false }
        if !includes.capabilities.allSatisfy(capabilities.contains) { return false }
        if let minimum = includes.minimumKernel, kernel < minimum { return false }
        return true
    }
}

import StrataJSON

/// Decoding of `user`, `security` and `limits`: Docker's vocabulary (`--user`,
/// `--cap-add`/`--cap-drop`, `--security-opt`, `--read-only`, `--memory`, `--pids-limit`,
/// `--cpus`, `--ulimit nofile`), checked as strictly as the rest of the manifest.
extension ManifestDecoder {
    static let memoryMinimum: UInt64 = 4 << 20
    static let pidsMaximum: Int64 = 4_194_304  // PID_MAX_LIMIT: no more processes can exist
    static let nofileMaximum: Int64 = 1_048_576  // the kernel's default fs.nr_open
    static let cpusMaximum: Double = 8192  // CONFIG_NR_CPUS at its largest (x86_64 MAXSMP)

    func userSpec(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> String {
        let expected = "NAME or UID, optionally followed by \":GROUP\" or \":GID\", such as \"1000:1000\""
        guard case .string = value else { throw fail(path, "is \(kind(value))", expected: expected) }
        let spec = try string(value, path)
        if case .failure(let problem) = UserSpec.parse(spec) {
            throw fail(path, "\(spec.debugDescription) \(problem.problem)", expected: expected)
        }
        return spec
    }

    func security(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.Security {
        let fields = try object(value, path, allowed: ["capabilities", "seccomp", "noNewPrivileges", "readonlyRoot"])
        var security = Manifest.Security()
        if let capabilities = fields["capabilities"] {
            let capabilitiesPath = path.appending("capabilities")
            let lists = try object(capabilities, capabilitiesPath, allowed: ["add", "drop"])
            let added = try lists["add"].map { v throws(ManifestError) in try capabilityEntries(v, capabilitiesPath.appending("add")) } ?? []
            let dropped = try lists["drop"].map { v throws(ManifestError) in try capabilityEntries(v, capabilitiesPath.appending("drop")) } ?? []
            for entry in dropped where added.contains(where: { $0.capability == entry.capability }) {
                throw fail(entry.path, "\"\(entry.written)\" is also in \"add\"", expected: "each capability either added or dropped")
            }
            security.capabilitiesAdd = capabilityList(added)
            security.capabilitiesDrop = capabilityList(dropped)
        }
        if let seccomp = fields["seccomp"] {
            let seccompPath = path.appending("seccomp")
            guard case .string = seccomp else {
                throw fail(seccompPath, "is \(kind(seccomp))", expected: "\"default\", \"unconfined\" or the path of a profile")
            }
            switch try string(seccomp, seccompPath) {
            case "default": security.seccomp = .default
            case "unconfined": security.seccomp = .unconfined
            case let profile: security.seccomp = .profile(path: profile)
            }
        }
        if let flag = fields["noNewPrivileges"] { security.noNewPrivileges = try bool(flag, path.appending("noNewPrivileges")) }
        if let flag = fields["readonlyRoot"] { security.readonlyRoot = try bool(flag, path.appending("readonlyRoot")) }
        return security
    }

    /// One name of an `add` or `drop` list; `capability` nil stands for "ALL".
    struct CapabilityEntry {
        var capability: Capability?
        var written: String
        var path: JSONPath
    }

    func capabilityEntries(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> [CapabilityEntry] {
        let expected = "a capability such as \"NET_ADMIN\" or \"CAP_NET_ADMIN\", or \"ALL\"; known: "
            + Capability.allCases.map(\.shortName).joined(separator: ", ")
        var entries: [CapabilityEntry] = []
        for (index, item) in try array(value, path).enumerated() {
            let itemPath = path.appending(index)
            guard case .string = item else { throw fail(itemPath, "is \(kind(item))", expected: expected) }
            let name = try string(item, itemPath)
            let entry: CapabilityEntry
            if name.uppercased() == "ALL" {
                entry = CapabilityEntry(capability: nil, written: name, path: itemPath)
            } else if let capability = Capability(name: name) {
                entry = CapabilityEntry(capability: capability, written: name, path: itemPath)
            } else {
                throw fail(itemPath, "\"\(name)\" is not a capability", expected: expected)
            }
            if let earlier = entries.first(where: { $0.capability == entry.capability }) {
                throw fail(itemPath, "\"\(name)\" repeats \"\(earlier.written)\"", expected: "each capability once")
            }
            if entries.contains(where: { $0.capability == nil }) || (entry.capability == nil && !entries.isEmpty) {
                throw fail(itemPath, "\"ALL\" and single capabilities are listed together", expected: "either [\"ALL\"] or capability names")
            }
            entries.append(entry)
        }
        return entries
    }

    func capabilityList(_ entries: [CapabilityEntry]) -> CapabilityList {
        entries.contains(where: { $0.capability == nil }) ? .all : .only(entries.compactMap(\.capability))
    }

    func limits(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.Limits {
        let fields = try object(value, path, allowed: ["memory", "pids", "cpus", "nofile"])
        var limits = Manifest.Limits()
        if let memory = fields["memory"] { limits.memoryBytes = try self.memory(memory, path.appending("memory")) }
        if let pids = fields["pids"] {
            limits.pids = Int(try integer(pids, path.appending("pids"), in: 1...Self.pidsMaximum,
                                          hint: "leave \"pids\" out for no limit"))
        }
        if let cpus = fields["cpus"] { limits.cpus = try self.cpus(cpus, path.appending("cpus")) }
        if let nofile = fields["nofile"] {
            limits.nofile = UInt64(try integer(nofile, path.appending("nofile"), in: 1...Self.nofileMaximum,
                                               hint: "the limit on open files, such as 4096"))
        }
        return limits
    }

    func integer(_ value: JSONValue, _ path: JSONPath, in range: ClosedRange<Int64>, hint: String) throws(ManifestError) -> Int64 {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound); \(hint)"
        switch value {
        case .int(let number):
            guard range.contains(number) else { throw fail(path, "\(number) is out of range", expected: expected) }
            return number
        case .double:
            throw fail(path, "is not a whole number", expected: expected)
        default:
            throw fail(path, "is \(kind(value))", expected: expected)
        }
    }

    /// Docker's `--memory`: bytes, or a whole number with a binary unit b, k, m, g or t.
    func memory(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> UInt64 {
        let expected = "a size such as \"512m\" or \"2g\" (units b, k, m, g, t) or a number of bytes, at least \"4m\""
        let bytes: UInt64
        let written: String
        switch value {
        case .int(let number):
            guard number > 0 else { throw fail(path, "\(number) is not positive", expected: expected) }
            bytes = UInt64(number)
            written = String(number)
        case .double:
            throw fail(path, "is not a whole number of bytes", expected: expected)
        case .string(let text):
            written = "\"\(text)\""
            let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
            let unit = text[digits.endIndex...].lowercased()
            let multipliers: [String: UInt64] = ["": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
            guard !digits.isEmpty, let multiplier = multipliers[unit] else {
                throw fail(path, "\(written) is not a size", expected: expected)
            }
            let product = UInt64(digits).map { $0.multipliedReportingOverflow(by: multiplier) }
            guard let product, !product.overflow, product.partialValue <= UInt64(Int64.max) else {
                throw fail(path, "\(written) is too large", expected: "at most \(Int64.max) bytes, the most a cgroup accepts")
            }
            bytes = product.partialValue
        default:
            throw fail(path, "is \(kind(value))", expected: expected)
        }
        guard bytes >= Self.memoryMinimum else {
            throw fail(path, "\(written) is less than strata's minimum of 4 MiB",
                       expected: "at least \"4m\"; Docker's own minimum is \"6m\"")
        }
        return bytes
    }

    /// Docker's `--cpus`: CPU time as a number of CPUs, to a thousandth of a CPU.
    func cpus(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Double {
        let expected = "a number of CPUs above 0 and at most \(Int(Self.cpusMaximum)) with at most 3 decimals, such as 1.5"
        let number: Double
        switch value {
        case .int(let whole): number = Double(whole)
        case .double(let real): number = real
        default: throw fail(path, "is \(kind(value))", expected: expected)
        }
        guard number > 0, number <= Self.cpusMaximum else { throw fail(path, "\(number) is out of range", expected: expected) }
        // Exact for every value written with three decimals: both sides are the double
        // nearest to the same decimal.
        guard Double(Int64((number * 1000).rounded())) / 1000 == number else {
            throw fail(path, "\(number) has more than 3 decimals", expected: expected)
        }
        return number
    }
}

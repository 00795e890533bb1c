import StrataJSON

extension SeccompProfile {
    /// Reads a Docker seccomp profile (the JSON `docker run --security-opt seccomp=FILE` takes).
    ///
    /// Fields are checked as moby and runc would use them; `file` only names the profile in
    /// errors. Besides the fields the format defines, only `comment`, `listenerPath` and
    /// `listenerMetadata` (which Docker passes on for notify agents) are accepted and ignored:
    /// any other unknown field is reported, since a misspelt field would silently change the filter.
    public static func decode(_ bytes: [UInt8], file: String) throws(SeccompError) -> SeccompProfile {
        let document: JSONValue
        do {
            document = try JSON.parse(bytes)
        } catch {
            throw invalidJSON(error, file: file)
        }
        do {
            return try ProfileDecoder().profile(document)
        } catch {
            // Locations cost a second, slower parse: only paid when there is something to point at.
            let location: SourceLocation
            if let located = try? JSON.parseLocated(bytes) {
                location = located.location(of: error.path)
            } else {
                location = SourceLocation(line: 1, column: 1)
            }
            throw .invalidProfile(file: file, location: location, path: error.path, problem: error.problem,
                                  expected: error.expected)
        }
    }

    private static func invalidJSON(_ error: JSONError, file: String) -> SeccompError {
        switch error {
        case .syntax(let location, let reason):
            return .invalidProfile(file: file, location: location, path: .root, problem: "is not valid JSON: \(reason)",
                                   expected: "a JSON object such as Docker's default.json")
        case .duplicateKey(let path, let key, let location):
            return .invalidProfile(file: file, location: location, path: path, problem: "has the key \"\(key)\" twice",
                                   expected: "each key once")
        case .unsupported(let location, let reason):
            return .invalidProfile(file: file, location: location, path: .root, problem: reason, expected: nil)
        }
    }
}

/// What is wrong and where, before the location in the file is known.
private struct DecodingProblem: Error {
    var path: JSONPath
    var problem: String
    var expected: String?
}

/// Turns a parsed profile into `SeccompProfile`, reporting the first field that moby or runc
/// would refuse (or misread) with the path of the offending value.
private struct ProfileDecoder {
    typealias Members = [String: JSONValue]

    /// The largest `errnoRet`: the kernel clamps larger values to `MAX_ERRNO` (4095).
    static let maximumErrno: Int64 = 4095

    func profile(_ value: JSONValue) throws(DecodingProblem) -> SeccompProfile {
        let root = JSONPath.root
        let fields = try object(value, root,
                                allowed: ["defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "syscalls"],
                                ignored: ["comment", "listenerPath", "listenerMetadata"])
        guard let actionValue = fields["defaultAction"], !actionValue.isNull else {
            throw DecodingProblem(path: root, problem: "has no \"defaultAction\"",
                                  expected: "\"defaultAction\": \"SCMP_ACT_ERRNO\" or another SCMP_ACT_ name")
        }
        let defaultAction = try action(actionValue, root.appending("defaultAction"),
                                       returnCode: fields["defaultErrnoRet"], returnCodePath: root.appending("defaultErrnoRet"))

        let architectures = try list(fields["architectures"], root.appending("architectures")) { (item, path) throws(DecodingProblem) in
            try architecture(item, path)
        }
        let architectureMap = try list(fields["archMap"], root.appending("archMap")) { (item, path) throws(DecodingProblem) in
            try mapping(item, path)
        }
        if !architectures.isEmpty && !architectureMap.isEmpty {
            throw DecodingProblem(path: root.appending("archMap"), problem: "is given together with \"architectures\"",
                                  expected: "either \"architectures\" or \"archMap\", as moby accepts only one")
        }
        let flags = try list(fields["flags"], root.appending("flags")) { (item, path) throws(DecodingProblem) in
            let flag = try string(item, path)
            guard SeccompProfile.knownFlags.contains(flag) else {
                throw DecodingProblem(path: path, problem: "\"\(flag)\" is not a seccomp filter flag",
                                      expected: "one of " + SeccompProfile.knownFlags.joined(separator: ", "))
            }
            return flag
        }
        let rules = try list(fields["syscalls"], root.appending("syscalls")) { (item, path) throws(DecodingProblem) in
            try rule(item, path)
        }
        return SeccompProfile(defaultAction: defaultAction, architectures: architectures,
                              architectureMap: architectureMap, flags: flags, rules: rules)
    }

    func rule(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> SeccompRule {
        let fields = try object(value, path,
                                allowed: ["names", "name", "action", "errnoRet", "args", "includes", "excludes"],
                                ignored: ["comment"])
        var names = try list(fields["names"], path.appending("names")) { (item, itemPath) throws(DecodingProblem) in
            try syscallName(item, itemPath)
        }
        if let single = fields["name"], !single.isNull {
            let name = try syscallName(single, path.appending("name"))
            guard names.isEmpty else {
                throw DecodingProblem(path: path.appending("name"), problem: "is given together with \"names\"",
                                      expected: "either \"names\" or \"name\", as moby accepts only one")
            }
            names = [name]
        }
        if names.isEmpty {
            throw DecodingProblem(path: path, problem: "names no syscall",
                                  expected: "\"names\": [\"…\"] with at least one syscall name")
        }
        guard let actionValue = fields["action"], !actionValue.isNull else {
            throw DecodingProblem(path: path, problem: "has no \"action\"",
                                  expected: "\"action\": \"SCMP_ACT_ALLOW\" or another SCMP_ACT_ name")
        }
        let ruleAction = try action(actionValue, path.appending("action"),
                                    returnCode: fields["errnoRet"], returnCodePath: path.appending("errnoRet"))
        let arguments = try list(fields["args"], path.appending("args")) { (item, itemPath) throws(DecodingProblem) in
            try argument(item, itemPath)
        }
        let includes = try condition(fields["includes"], path.appending("includes"))
        let excludes = try condition(fields["excludes"], path.appending("excludes"))
        return SeccompRule(names: names, action: ruleAction, arguments: arguments, includes: includes, excludes: excludes)
    }

    func action(_ value: JSONValue, _ path: JSONPath, returnCode: JSONValue?, returnCodePath: JSONPath)
        throws(DecodingProblem) -> SeccompAction
    {
        let name = try string(value, path)
        var code: UInt16?
        if let returnCode, !returnCode.isNull {
            guard SeccompAction.takesReturnCode(name) else {
                throw DecodingProblem(path: returnCodePath, problem: "is set for \(name), which returns no errno",
                                      expected: "no errno value, or the action SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
            }
            code = UInt16(try integer(returnCode, returnCodePath, in: 0...Self.maximumErrno,
                                      what: "an errno number from 0 to 4095, such as 1 (EPERM) or 38 (ENOSYS)"))
        }
        guard let action = SeccompAction.named(name, returnCode: code) else {
            let problem = name == "SCMP_ACT_NOTIFY"
                ? "SCMP_ACT_NOTIFY (a user-space notify agent) is not supported"
                : "\"\(name)\" is not a seccomp action"
            throw DecodingProblem(path: path, problem: problem,
                                  expected: "one of " + SeccompAction.profileNames.joined(separator: ", "))
        }
        return action
    }

    func argument(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> SeccompArgument {
        let fields = try object(value, path, allowed: ["index", "value", "valueTwo", "op"], ignored: [])
        for key in ["index", "value", "op"] where fields[key] == nil || fields[key] == .null {
            throw DecodingProblem(path: path, problem: "has no \"\(key)\"",
                                  expected: "{\"index\": 0, \"value\": 38, \"op\": \"SCMP_CMP_LT\"}")
        }
        let index = try integer(fields["index"] ?? .null, path.appending("index"), in: 0...5,
                                what: "an argument index from 0 to 5 (syscalls have at most six arguments)")
        let operand = try integer(fields["value"] ?? .null, path.appending("value"), in: 0...Int64.max,
                                  what: "a whole number from 0 to \(Int64.max)")
        var operandTwo: Int64 = 0
        if let second = fields["valueTwo"], !second.isNull {
            operandTwo = try integer(second, path.appending("valueTwo"), in: 0...Int64.max,
                                     what: "a whole number from 0 to \(Int64.max)")
        }
        let opName = try string(fields["op"] ?? .null, path.appending("op"))
        guard let op = SeccompOperator(rawValue: opName) else {
            throw DecodingProblem(path: path.appending("op"), problem: "\"\(opName)\" is not a comparison",
                                  expected: "one of " + SeccompOperator.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return SeccompArgument(index: Int(index), value: UInt64(operand), valueTwo: UInt64(operandTwo), op: op)
    }

    func condition(_ value: JSONValue?, _ path: JSONPath)
        throws(DecodingProblem) -> SeccompCondition
    {
        guard let value, !value.isNull else { return SeccompCondition() }
        let fields = try object(value, path, allowed: ["caps", "arches", "minKernel"], ignored: [])
        let capabilities = try list(fields["caps"], path.appending("caps")) { (item, itemPath) throws(DecodingProblem) in
            let name = try string(item, itemPath)
            guard name.hasPrefix("CAP_"), name.count > 4 else {
                throw DecodingProblem(path: itemPath, problem: "\"\(name)\" is not a capability name",
                                      expected: "a name such as \"CAP_SYS_ADMIN\"")
            }
            return name
        }
        let architectures = try list(fields["arches"], path.appending("arches")) { (item, itemPath) throws(DecodingProblem) in
            try string(item, itemPath)
        }
        var minimumKernel: KernelVersion?
        if let kernel = fields["minKernel"], !kernel.isNull {
            minimumKernel = try kernelVersion(kernel, path.appending("minKernel"))
        }
        return SeccompCondition(capabilities: capabilities, architectures: architectures, minimumKernel: minimumKernel)
    }

    /// moby's `"<kernel>.<major>"`: exactly two numbers below 256, not both zero.
    func kernelVersion(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> KernelVersion {
        let text = try string(value, path)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { part -> Int? in
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(part), n <= 255 else { return nil }
            return n
        }
        guard parts.count == 2, numbers.count == 2, numbers != [0, 0] else {
            throw DecodingProblem(path: path, problem: "\"\(text)\" is not a kernel version",
                                  expected: "\"MAJOR.MINOR\" such as \"4.8\"")
        }
        return KernelVersion(major: numbers[0], minor: numbers[1])
    }

    func mapping(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> ArchitectureMapping {
        let fields = try object(value, path, allowed: ["architecture", "subArchitectures"], ignored: [])
        guard let main = fields["architecture"], !main.isNull else {
            throw DecodingProblem(path: path, problem: "has no \"architecture\"",
                                  expected: "{\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\"]}")
        }
        let architecture = try architecture(main, path.appending("architecture"))
        let subArchitectures = try list(fields["subArchitectures"], path.appending("subArchitectures")) {
            (item, itemPath) throws(DecodingProblem) in try self.architecture(item, itemPath)
        }
        return ArchitectureMapping(architecture: architecture, subArchitectures: subArchitectures)
    }

    func architecture(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> SeccompArchitecture {
        let name = try string(value, path)
        guard let architecture = SeccompArchitecture(rawValue: name) else {
            throw DecodingProblem(path: path, problem: "\"\(name)\" is not a seccomp architecture",
                                  expected: "a name such as \"SCMP_ARCH_X86_64\" or \"SCMP_ARCH_AARCH64\"")
        }
        return architecture
    }

    func syscallName(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> String {
        let name = try string(value, path)
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        else {
            throw DecodingProblem(path: path, problem: "\"\(name)\" is not a syscall name",
                                  expected: "a lowercase name such as \"openat\"")
        }
        return name
    }

    // MARK: JSON shapes

    func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    func object(_ value: JSONValue, _ path: JSONPath, allowed: [String], ignored: [String])
        throws(DecodingProblem) -> Members
    {
        guard case .object(let members) = value else {
            throw DecodingProblem(path: path, problem: "is \(kind(value))", expected: "an object")
        }
        for key in members.keys.sorted() where !allowed.contains(key) && !ignored.contains(key) {
            throw DecodingProblem(path: path.appending(key), problem: "is not a field of a seccomp profile here",
                                  expected: "one of " + allowed.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return members
    }

    func string(_ value: JSONValue, _ path: JSONPath) throws(DecodingProblem) -> String {
        guard case .string(let text) = value else {
            throw DecodingProblem(path: path, problem: "is \(kind(value))", expected: "a string")
        }
        return text
    }

    func integer(_ value: JSONValue, _ path: JSONPath, in range: ClosedRange<Int64>, what: String)
        throws(DecodingProblem) -> Int64
    {
        switch value {
        case .int(let number) where range.contains(number):
            return number
        case .int(let number):
            throw DecodingProblem(path: path, problem: "\(number) is out of range", expected: what)
        case .double(let number):
            // Integers beyond Int64 arrive as doubles, already rounded: refuse rather than guess.
            let problem = number.rounded() == number ? "\(number) is out of range" : "\(number) is not a whole number"
            throw DecodingProblem(path: path, problem: problem, expected: what)
        default:
            throw DecodingProblem(path: path, problem: "is \(kind(value))", expected: what)
        }
    }

    /// An optional array (absent and `null` are empty, as Go reads them), item by item.
    func list<T>(_ value: JSONValue?, _ path: JSONPath, _ item: (JSONValue, JSONPath) throws(DecodingProblem) -> T)
        throws(DecodingProblem) -> [T]
    {
        guard let value, !value.isNull else { return [] }
        guard case .array(let items) = value else {
            throw DecodingProblem(path: path, problem: "is \(kind(value))", expected: "an array")
        }
        var result: [T] = []
        result.reserveCapacity(items.count)
        for (index, element) in items.enumerated() {
            result.append(try item(element, path.appending(index)))
        }
        return result
    }
}

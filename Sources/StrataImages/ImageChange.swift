import StrataEnvironment
import StrataJSON
import StrataOCI

/// One `--change` of `strata commit`: a Dockerfile instruction that sets image
/// config, as `docker commit --change` takes them.
enum ImageChange: Equatable {
    case env([(String, String)])
    case cmd([String])
    case entrypoint([String])
    case workdir(String)
    case user(String)
    case label([(String, String)])
    case stopSignal(String)

    static func == (a: ImageChange, b: ImageChange) -> Bool {
        switch (a, b) {
        case (.env(let x), .env(let y)), (.label(let x), .label(let y)): return x.map { [$0.0, $0.1] } == y.map { [$0.0, $0.1] }
        case (.cmd(let x), .cmd(let y)), (.entrypoint(let x), .entrypoint(let y)): return x == y
        case (.workdir(let x), .workdir(let y)), (.user(let x), .user(let y)), (.stopSignal(let x), .stopSignal(let y)): return x == y
        default: return false
        }
    }

    static let instructions = "ENV, CMD, ENTRYPOINT, WORKDIR, USER, LABEL or STOPSIGNAL"

    /// Parses `INSTRUCTION ARGUMENTS`; a bad change is one sentence (`StrataError.usage`).
    init(parsing text: String) throws(StrataError) {
        let trimmed = text.drop { $0 == " " || $0 == "\t" }
        let word = trimmed.prefix { $0 != " " && $0 != "\t" }
        let rest = String(trimmed.dropFirst(word.count).drop { $0 == " " || $0 == "\t" })
        func bad(_ why: String) -> StrataError { .usage("--change '\(text)': \(why)") }
        guard !rest.isEmpty else {
            throw word.isEmpty ? bad("give an instruction (\(Self.instructions)) and its arguments") : bad("\(word.uppercased()) needs arguments")
        }
        switch word.uppercased() {
        case "ENV": self = .env(try Self.pairs(rest, allowSpaceForm: true, bad))
        case "LABEL": self = .label(try Self.pairs(rest, allowSpaceForm: false, bad))
        case "CMD": self = .cmd(try Self.command(rest, bad))
        case "ENTRYPOINT": self = .entrypoint(try Self.command(rest, bad))
        case "WORKDIR":
            guard rest.hasPrefix("/") else { throw bad("WORKDIR must be an absolute path") }
            self = .workdir(rest)
        case "USER": self = .user(rest)
        case "STOPSIGNAL": self = .stopSignal(rest)
        default: throw bad("\(word) is not a change strata can apply (use \(Self.instructions))")
        }
    }

    /// The exec form `["a", "b"]` as is; the shell form `a b` as Docker runs it, `/bin/sh -c 'a b'`.
    static func command(_ text: String, _ bad: (String) -> StrataError) throws(StrataError) -> [String] {
        guard text.hasPrefix("[") else { return ["/bin/sh", "-c", text] }
        guard case .array(let items)? = try? JSON.parse(text) else {
            throw bad("the exec form is a JSON array of strings, like [\"/bin/sh\", \"-c\", \"echo hi\"]")
        }
        var argv: [String] = []
        for item in items {
            guard case .string(let word) = item else {
                throw bad("the exec form is a JSON array of strings, like [\"/bin/sh\", \"-c\", \"echo hi\"]")
            }
            argv.append(word)
        }
        return argv
    }

    /// `K=V K2="V 2"` (and for ENV also the old `K V` form).
    static func pairs(_ text: String, allowSpaceForm: Bool, _ bad: (String) -> StrataError) throws(StrataError) -> [(String, String)] {
        let words = try Self.words(text, bad)
        if allowSpaceForm, let first = words.first, !first.contains("=") {
            let value = text.drop { $0 != " " && $0 != "\t" }.drop { $0 == " " || $0 == "\t" }
            return [(first, String(value))]
        }
        var out: [(String, String)] = []
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw bad("\(word) is not KEY=VALUE")
            }
            out.append((String(word[..<equals]), String(word[word.index(after: equals)...])))
        }
        return out
    }

    /// Splits at unquoted blanks; double quotes group and are removed, `\` escapes the next character.
    static func words(_ text: String, _ bad: (String) -> StrataError) throws(StrataError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        var escaped = false
        for character in text {
            if escaped { current.append(character); escaped = false; continue }
            switch character {
            case "\\": escaped = true; inWord = true
            case "\"": quoted.toggle(); inWord = true
            case " ", "\t":
                if quoted { current.append(character) } else if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(character); inWord = true
            }
        }
        if quoted { throw bad("a double quote is not closed") }
        if inWord { words.append(current) }
        return words
    }

    /// Applies the changes in order, as Dockerfile instructions: a new ENTRYPOINT drops
    /// the CMD the config had before (it was meant for the old entrypoint) unless a CMD is given too.
    static func apply(_ changes: [ImageChange], to config: inout ImageRuntimeConfig) {
        let setsCommand = changes.contains { if case .cmd = $0 { true } else { false } }
        for change in changes {
            change.apply(to: &config)
            if case .entrypoint = change, !setsCommand { config.cmd = nil }
        }
    }

    func apply(to config: inout ImageRuntimeConfig) {
        switch self {
        case .env(let pairs):
            for (key, value) in pairs {
                config.env.removeAll { $0.hasPrefix(key + "=") }
                config.env.append(key + "=" + value)
            }
        case .label(let pairs):
            for (key, value) in pairs { config.labels[key] = value }
        case .cmd(let argv): config.cmd = argv
        case .entrypoint(let argv): config.entrypoint = argv
        case .workdir(let dir): config.workingDir = dir
        case .user(let user): config.user = user
        case .stopSignal(let signal): config.stopSignal = signal
        }
    }
}

import StrataJSON

extension Manifest {
    /// Parses and validates manifest bytes. `file` is only used in error messages.
    public static func decode(_ bytes: [UInt8], file: String) throws(ManifestError) -> Manifest {
        let document: LocatedJSON
        do {
            document = try JSON.parseLocated(bytes)
        } catch {
            switch error {
            case .syntax(let location, let reason):
                throw ManifestError(file: file, location: location, path: .root, problem: reason, expected: "strict JSON")
            case .duplicateKey(let path, let key, let location):
                throw ManifestError(file: file, location: location, path: path, problem: "duplicate key \"\(key)\"",
                                    expected: "each key once")
            case .unsupported(let location, let reason):
                throw ManifestError(file: file, location: location, path: .root, problem: reason)
            }
        }
        var decoder = ManifestDecoder(file: file, document: document)
        return try decoder.manifest()
    }
}

/// Walks a located JSON document, turning every mismatch into a `ManifestError`
/// that points at the offending value.
struct ManifestDecoder {
    let file: String
    let document: LocatedJSON

    /// How a value's type is named in error messages.
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

    func fail(_ path: JSONPath, _ problem: String, expected: String? = nil) -> ManifestError {
        ManifestError(file: file, location: document.location(of: path), path: path, problem: problem, expected: expected)
    }

    func object(_ value: JSONValue, _ path: JSONPath, allowed: [String]) throws(ManifestError) -> [String: JSONValue] {
        guard case .object(let members) = value else {
            throw fail(path, "is \(kind(value))", expected: "an object")
        }
        for key in members.keys.sorted() where !allowed.contains(key) {
            throw fail(path.appending(key), "unknown field \"\(key)\"",
                       expected: "one of " + allowed.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return members
    }

    func string(_ value: JSONValue, _ path: JSONPath, nonEmpty: Bool = true) throws(ManifestError) -> String {
        guard case .string(let text) = value else { throw fail(path, "is \(kind(value))", expected: "a string") }
        if nonEmpty && text.isEmpty { throw fail(path, "is empty", expected: "a non-empty string") }
        return text
    }

    func absolutePath(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> String {
        guard case .string = value else {
            throw fail(path, "is \(kind(value))", expected: "an absolute path such as \"/work\"")
        }
        let text = try string(value, path)
        guard text.hasPrefix("/") else {
            throw fail(path, "\"\(text)\" is a relative path", expected: "an absolute path such as \"/work\"")
        }
        if text.split(separator: "/").contains("..") {
            throw fail(path, "\"\(text)\" contains \"..\"", expected: "an absolute path without \"..\"")
        }
        return text
    }

    func bool(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Bool {
        guard case .bool(let flag) = value else { throw fail(path, "is \(kind(value))", expected: "true or false") }
        return flag
    }

    func array(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> [JSONValue] {
        guard case .array(let items) = value else { throw fail(path, "is \(kind(value))", expected: "an array") }
        return items
    }

    mutating func manifest() throws(ManifestError) -> Manifest {
        let root = JSONPath.root
        let fields = try object(document.value, root, allowed: [
            "from", "packages", "recommends", "steps", "env", "workdir", "shell", "hostname", "network", "mounts",
            "user", "security", "limits", "labels", "epoch", "project",
        ])
        var manifest = Manifest()
        manifest.writtenFields = Set(fields.keys)
        if let from = fields["from"] { manifest.base = try base(from, root.appending("from")) }
        if let packages = fields["packages"] {
            let path = root.appending("packages")
            if case .environment = manifest.base {} else if case .debian = manifest.base {} else {
                throw fail(path, "needs a Debian base", expected: "\"from\": {\"debian\": {\"suite\": \"bookworm\"}}")
            }
            var seen = Set<String>()
            for (index, item) in try array(packages, path).enumerated() {
                let itemPath = path.appending(index)
                let request = try string(item, itemPath)
                guard isPackageRequest(request) else {
                    throw fail(itemPath, "\"\(request)\" is not a package request",
                               expected: "NAME, NAME:ARCH or NAME=VERSION, such as \"git=1:2.39.5-0+deb12u2\"")
                }
                guard seen.insert(request).inserted else {
                    throw fail(itemPath, "\"\(request)\" is listed twice", expected: "each package once")
                }
                manifest.packages.append(request)
            }
        }
        if let recommends = fields["recommends"] {
            let path = root.appending("recommends")
            if case .environment = manifest.base {} else if case .debian = manifest.base {} else {
                throw fail(path, "needs a Debian base", expected: "\"from\": {\"debian\": {\"suite\": \"bookworm\"}}")
            }
            manifest.recommends = try bool(recommends, path)
        }
        if let steps = fields["steps"] {
            let path = root.appending("steps")
            for (index, step) in try array(steps, path).enumerated() {
                manifest.steps.append(try self.step(step, path.appending(index)))
                manifest.stepLocations.append(document.location(of: path.appending(index)))
            }
        }
        if let env = fields["env"] { manifest.env = try variables(env, root.appending("env")) }
        if let workdir = fields["workdir"] { manifest.workdir = try absolutePath(workdir, root.appending("workdir")) }
        if let shell = fields["shell"] {
            let path = root.appending("shell")
            let items = try array(shell, path)
            if items.isEmpty { throw fail(path, "is empty", expected: "a command and its arguments, such as [\"/bin/sh\"]") }
            var argv: [String] = []
            for (index, item) in items.enumerated() { argv.append(try string(item, path.appending(index))) }
            manifest.shell = argv
        }
        if let hostname = fields["hostname"] {
            let path = root.appending("hostname")
            let name = try string(hostname, path)
            let valid = name.utf8.count <= 64 && name.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x2e
            }
            if !valid { throw fail(path, "\"\(name)\" is not a valid host name", expected: "up to 64 letters, digits, \"-\" or \".\"") }
            manifest.hostname = name
        }
        if let network = fields["network"] { manifest.network = try networkMode(network, root.appending("network")) }
        if let mounts = fields["mounts"] {
            let path = root.appending("mounts")
            for (index, item) in try array(mounts, path).enumerated() {
                manifest.mounts.append(try mount(item, path.appending(index)))
            }
        }
        if let user = fields["user"] { manifest.user = try userSpec(user, root.appending("user")) }
        if let security = fields["security"] { manifest.security = try self.security(security, root.appending("security")) }
        if let limits = fields["limits"] { manifest.limits = try self.limits(limits, root.appending("limits")) }
        if let epoch = fields["epoch"] {
            let path = root.appending("epoch")
            guard case .int(let seconds) = epoch, seconds >= 0, seconds <= 253_402_300_799 else {
                throw fail(path, epoch == .null ? "is null" : "is \(kind(epoch))\(isNumber(epoch) ? " out of range" : "")",
                           expected: "seconds since 1970 as a whole number, such as 1700000000")
            }
            manifest.epoch = seconds
        }
        if let project = fields["project"] {
            let path = root.appending("project")
            switch project {
            case .bool(true): manifest.project = nil
            case .bool(false): manifest.project = Manifest.Project.none
            case .string: manifest.project = .directory(try string(project, path))
            default: throw fail(path, "is \(kind(project))", expected: "a directory (such as \"..\"), or false for none")
            }
        }
        if let labels = fields["labels"] {
            let path = root.appending("labels")
            guard case .object(let members) = labels else { throw fail(path, "is \(kind(labels))", expected: "an object of strings") }
            for key in members.keys.sorted() {
                if key.isEmpty { throw fail(path.appending(key), "is an empty label name", expected: "a name such as \"org.opencontainers.image.source\"") }
                manifest.labels[key] = try string(members[key]!, path.appending(key), nonEmpty: false)
            }
        }
        return manifest
    }

    func base(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.Base {
        if case .string(let word) = value {
            guard word == "scratch" else {
                throw fail(path, "\"\(word)\" is not a base", expected: "\"scratch\" or {\"image\": \"NAME[:TAG]\"}")
            }
            return .scratch
        }
        guard case .object = value else {
            throw fail(path, "is \(kind(value))", expected: "\"scratch\", {\"image\": \"NAME[:TAG]\"} or {\"debian\": {…}}")
        }
        let fields = try object(value, path, allowed: ["image", "debian", "env"])
        if fields.count > 1 {
            throw fail(path, "names more than one base", expected: "exactly one of \"image\", \"debian\" or \"env\"")
        }
        if let debian = fields["debian"] { return .debian(try debianSource(debian, path.appending("debian"))) }
        if let other = fields["env"] { return .environment(try string(other, path.appending("env"))) }
        guard let image = fields["image"] else {
            throw fail(path, "names no base", expected: "{\"image\": \"NAME[:TAG]\"} or {\"debian\": {\"suite\": \"bookworm\"}}")
        }
        let imagePath = path.appending("image")
        let reference = try string(image, imagePath)
        guard reference.hasPrefix("oci:") else {
            do { return .image(try ImageReference(parsing: reference)) } catch {
                throw fail(imagePath, error.description,
                           expected: "an image in the store, \"NAME[:TAG]\", or an OCI layout on disk, \"oci:DIR[:TAG]\"")
            }
        }
        guard reference.count > 4 else {
            throw fail(imagePath, "\"oci:\" names no directory", expected: "an OCI layout on disk, \"oci:DIR[:TAG]\"")
        }
        let rest = reference.dropFirst(4)
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            let directory = String(rest[..<colon])
            let tag = String(rest[rest.index(after: colon)...])
            guard !directory.isEmpty, isValidTag(tag) else {
                throw fail(imagePath, "\"\(reference)\" has an invalid tag", expected: "\"oci:DIR[:TAG]\" with TAG like \"latest\"")
            }
            return .ociLayout(directory: directory, tag: tag)
        }
        return .ociLayout(directory: String(rest), tag: nil)
    }

    func debianSource(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.DebianSource {
        let fields = try object(value, path, allowed: ["suite", "components", "variant", "architecture", "mirror", "keyring"])
        guard let suiteValue = fields["suite"] else {
            throw fail(path, "has no \"suite\"", expected: "a Debian suite or codename such as \"bookworm\"")
        }
        let suite = try string(suiteValue, path.appending("suite"))
        guard isArchiveWord(suite) else {
            throw fail(path.appending("suite"), "\"\(suite)\" is not a suite name", expected: "letters, digits, \"-\" or \".\", such as \"bookworm\"")
        }
        var source = Manifest.DebianSource(suite: suite)
        if let components = fields["components"] {
            let componentsPath = path.appending("components")
            let items = try array(components, componentsPath)
            if items.isEmpty { throw fail(componentsPath, "is empty", expected: "archive components such as [\"main\"]") }
            var names: [String] = []
            for (index, item) in items.enumerated() {
                let name = try string(item, componentsPath.appending(index))
                guard isArchiveWord(name), !names.contains(name) else {
                    throw fail(componentsPath.appending(index), names.contains(name) ? "\"\(name)\" is listed twice" : "\"\(name)\" is not a component name",
                               expected: "components such as \"main\", \"contrib\"")
                }
                names.append(name)
            }
            source.components = names
        }
        if let variant = fields["variant"] {
            let variantPath = path.appending("variant")
            let word = try string(variant, variantPath)
            guard let parsed = Manifest.DebianSource.Variant(rawValue: word) else {
                throw fail(variantPath, "\"\(word)\" is not a variant", expected: "\"essential\", \"minbase\" or \"extract\"")
            }
            source.variant = parsed
        }
        if let architecture = fields["architecture"] {
            let architecturePath = path.appending("architecture")
            let word = try string(architecture, architecturePath)
            guard isArchiveWord(word), !word.contains(".") else {
                throw fail(architecturePath, "\"\(word)\" is not an architecture", expected: "a Debian architecture such as \"amd64\"")
            }
            source.architecture = word
        }
        if let mirror = fields["mirror"] {
            let mirrorPath = path.appending("mirror")
            var urls: [JSONValue] = [mirror]
            if case .array(let items) = mirror { urls = items }
            if urls.isEmpty { throw fail(mirrorPath, "is empty", expected: "a URL such as \"http://deb.example.org/debian\", or a list of them") }
            var mirrors: [String] = []
            for (index, item) in urls.enumerated() {
                let itemPath = urls.count == 1 && !isArray(mirror) ? mirrorPath : mirrorPath.appending(index)
                let url = try string(item, itemPath)
                guard url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("file:///") else {
                    throw fail(itemPath, "\"\(url)\" is not a mirror URL", expected: "an http://, https:// or file:/// URL")
                }
                mirrors.append(url)
            }
            source.mirrors = mirrors
        }
        if let keyring = fields["keyring"] { source.keyring = try string(keyring, path.appending("keyring")) }
        return source
    }

    func isArray(_ value: JSONValue) -> Bool {
        if case .array = value { return true }
        return false
    }

    /// Suites, components and architectures: what apt accepts in a sources entry.
    func isArchiveWord(_ word: String) -> Bool {
        !word.isEmpty && word.utf8.count <= 64 && word.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f
        } && !word.hasPrefix(".") && !word.contains("..")
    }

    /// `name[:arch][=version]` in Debian's alphabet (policy 5.6.1, 5.6.12); the resolver
    /// checks the version's structure.
    func isPackageRequest(_ text: String) -> Bool {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let head = parts[0].split(separator: ":", omittingEmptySubsequences: false)
        guard head.count <= 2, let name = head.first, name.utf8.count >= 2, name.utf8.count <= 128 else { return false }
        let nameOK = name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2b || $0 == 0x2d || $0 == 0x2e }
            && name.utf8.first.map { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) } == true
        guard nameOK else { return false }
        if head.count == 2 && (head[1].isEmpty || !isArchiveWord(String(head[1]))) { return false }
        if parts.count == 2 {
            let version = parts[1]
            guard !version.isEmpty, version.utf8.count <= 256,
                  version.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ".+-~:".utf8.contains($0) })
            else { return false }
        }
        return true
    }

    func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f }
        return word(first) && bytes.allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    func isNumber(_ value: JSONValue) -> Bool {
        switch value {
        case .int, .double: return true
        default: return false
        }
    }

    static let runOptions = ["env", "workdir", "user", "network", "cache"]

    func step(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.Step {
        let fields = try object(value, path, allowed: ["copy", "tar", "run"] + Self.runOptions)
        let kinds = fields.keys.filter { ["copy", "tar", "run"].contains($0) }
        guard kinds.count == 1, let kind = kinds.first else {
            throw fail(path, kinds.isEmpty ? "is an empty step" : "has more than one kind of step",
                       expected: "exactly one of \"copy\", \"tar\" or \"run\"")
        }
        if kind != "run", let option = fields.keys.sorted().first(where: { Self.runOptions.contains($0) }) {
            throw fail(path.appending(option), "\"\(option)\" belongs to a \"run\" step", expected: "only \"\(kind)\" in a \(kind) step")
        }
        let inner = path.appending(kind)
        switch kind {
        case "run":
            return .run(try runStep(fields, path))
        case "copy":
            let copy = try object(fields[kind]!, inner, allowed: ["from", "to"])
            guard let from = copy["from"] else { throw fail(inner, "has no \"from\"", expected: "a file or directory relative to the manifest") }
            guard let to = copy["to"] else { throw fail(inner, "has no \"to\"", expected: "an absolute path in the environment") }
            return .copy(from: try string(from, inner.appending("from")), to: try absolutePath(to, inner.appending("to")))
        default:
            return .tar(try string(fields[kind]!, inner))
        }
    }

    func runStep(_ fields: [String: JSONValue], _ path: JSONPath) throws(ManifestError) -> Manifest.RunStep {
        let commandPath = path.appending("run")
        let expected = "a shell command such as \"make install\", or a command and its arguments such as [\"make\", \"install\"]"
        let command: Manifest.RunStep.Command
        switch fields["run"]! {
        case .string(let script):
            guard script.contains(where: { !$0.isWhitespace }) else { throw fail(commandPath, "is an empty command", expected: expected) }
            command = .shell(script)
        case .array(let items):
            guard !items.isEmpty else { throw fail(commandPath, "is empty", expected: expected) }
            var argv: [String] = []
            for (index, item) in items.enumerated() { argv.append(try string(item, commandPath.appending(index), nonEmpty: index == 0)) }
            command = .argv(argv)
        case let other:
            throw fail(commandPath, "is \(kind(other))", expected: expected)
        }
        var step = Manifest.RunStep(command: command)
        if let env = fields["env"] { step.env = try variables(env, path.appending("env")) }
        if let workdir = fields["workdir"] { step.workdir = try absolutePath(workdir, path.appending("workdir")) }
        if let user = fields["user"] { step.user = try userSpec(user, path.appending("user")) }
        if let network = fields["network"] { step.network = try networkMode(network, path.appending("network")) }
        if let cache = fields["cache"] {
            let cachePath = path.appending("cache")
            for (index, item) in try array(cache, cachePath).enumerated() {
                let target = try absolutePath(item, cachePath.appending(index))
                guard target != "/" else { throw fail(cachePath.appending(index), "is the root", expected: "a directory such as \"/root/.cache/pip\"") }
                guard !step.cache.contains(target) else {
                    throw fail(cachePath.appending(index), "\"\(target)\" is listed twice", expected: "each cache path once")
                }
                step.cache.append(target)
            }
        }
        return step
    }

    func variables(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> [String: String] {
        guard case .object(let members) = value else { throw fail(path, "is \(kind(value))", expected: "an object of strings") }
        var variables: [String: String] = [:]
        for key in members.keys.sorted() {
            let valuePath = path.appending(key)
            if key.isEmpty || key.contains("=") || key.utf8.contains(0) {
                throw fail(valuePath, "\"\(key)\" is not a valid variable name", expected: "a name without \"=\"")
            }
            variables[key] = try string(members[key]!, valuePath, nonEmpty: false)
        }
        return variables
    }

    func networkMode(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.Network {
        let mode = try string(value, path)
        guard let parsed = Manifest.Network(rawValue: mode) else {
            throw fail(path, "\"\(mode)\" is not a network mode", expected: "\"none\" or \"host\"")
        }
        return parsed
    }

    func mount(_ value: JSONValue, _ path: JSONPath) throws(ManifestError) -> Manifest.Mount {
        guard case .object(let raw) = value else { throw fail(path, "is \(kind(value))", expected: "an object") }
        let types = "\"bind\", \"tmpfs\" or \"volume\""
        guard let typeValue = raw["type"] else { throw fail(path, "has no \"type\"", expected: types) }
        let type = try string(typeValue, path.appending("type"))
        switch type {
        case "bind":
            let fields = try object(value, path, allowed: ["type", "source", "target", "readonly"])
            guard let source = fields["source"] else { throw fail(path, "has no \"source\"", expected: "a host path") }
            guard let target = fields["target"] else { throw fail(path, "has no \"target\"", expected: "an absolute path in the environment") }
            let readOnly = try fields["readonly"].map { v throws(ManifestError) in try bool(v, path.appending("readonly")) } ?? false
            return .bind(source: try string(source, path.appending("source")),
                         target: try absolutePath(target, path.appending("target")), readOnly: readOnly)
        case "tmpfs":
            let fields = try object(value, path, allowed: ["type", "target"])
            guard let target = fields["target"] else { throw fail(path, "has no \"target\"", expected: "an absolute path in the environment") }
            return .tmpfs(target: try absolutePath(target, path.appending("target")))
        case "volume":
            let fields = try object(value, path, allowed: ["type", "name", "target"])
            let nameRule = "a volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters"
            guard let nameValue = fields["name"] else { throw fail(path, "has no \"name\"", expected: nameRule) }
            guard let target = fields["target"] else { throw fail(path, "has no \"target\"", expected: "an absolute path in the environment") }
            let name = try string(nameValue, path.appending("name"))
            guard Manifest.Mount.isValidVolumeName(name) else {
                throw fail(path.appending("name"), "\"\(name)\" is not a valid volume name", expected: nameRule)
            }
            return .volume(name: name, target: try absolutePath(target, path.appending("target")))
        default:
            throw fail(path.appending("type"), "\"\(type)\" is not a mount type", expected: types)
        }
    }
}

// The dpkg status database (`/var/lib/dpkg/status`) as dpkg itself writes it, so that
// `dpkg -l`, `dpkg -S`, `apt-get check` and scanners see the packages a layer stack holds.

/// One field of a status paragraph: the name and the value after `Name: ` exactly as it will
/// be written, continuation lines included (each starting with its space or tab), without the
/// final newline.
public struct DpkgField: Sendable, Hashable {
    public let name: String
    public let value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One line of a status paragraph's `Conffiles:` field: ` /etc/path HASH [flag…]`.
public struct DpkgConffile: Sendable, Hashable {
    /// What dpkg writes for a conffile whose content it has not hashed yet (a conffile not in
    /// the layer, such as a `remove-on-upgrade` one).
    public static let newConffileHash = "newconffile"

    /// The absolute path as the package's `conffiles` names it (`/etc/adduser.conf`).
    public let path: String
    /// The MD5 (lowercase hex) of the file as unpacked, or `newConffileHash`.
    public let hash: String
    /// The flags of the `conffiles` line (`remove-on-upgrade`), written after the hash.
    public let flags: [String]

    public init(path: String, hash: String, flags: [String] = []) {
        self.path = path
        self.hash = hash
        self.flags = flags
    }
}

/// A package's paragraph of the dpkg status file, built from its `.deb`'s control paragraph.
///
/// Guarantees: immutable and `Sendable`; `package`, `version` and `architecture` are present
/// and valid (a package name dpkg accepts, a version dpkg parses, an architecture name of
/// lowercase letters, digits and `-`), so `infoName` is a safe file name. `fields` hold the
/// values dpkg would write after unpacking the package: relationship fields and `Version` in
/// dpkg's canonical spelling, `Essential: no`/`Protected: no`/`Multi-Arch: no` dropped, other
/// values verbatim (multi-line ones too); the fields dpkg keeps to itself (`Status`,
/// `Conffiles`, `Config-Version`, `Triggers-*`) are not taken from the control paragraph.
public struct DpkgStatusEntry: Sendable, Hashable {
    public let package: String
    public let version: String
    public let architecture: String
    /// `same`, `foreign` or `allowed`; nil for `no` or absent.
    public let multiArch: String?
    /// The control fields in control-file order (rendering sorts them into dpkg's order).
    public let fields: [DpkgField]
    public let conffiles: [DpkgConffile]

    /// The name of the package's files in `/var/lib/dpkg/info/`: `PKG`, or `PKG:ARCH` for a
    /// `Multi-Arch: same` package (dpkg's rule), without the extension.
    public var infoName: String { DpkgStatus.infoName(package: package, architecture: architecture, multiArch: multiArch) }

    /// The entry for a package whose control paragraph is `control` and whose conffiles were
    /// hashed as `conffiles`. A missing or invalid `Package`, `Version` or `Architecture`, an
    /// unparsable relationship field or `Multi-Arch` value is an error naming field and line.
    public init(control: ControlParagraph, conffiles: [DpkgConffile]) throws(ControlFileError) {
        let packageField = control.field("Package")
        guard let packageField, let package = try control.value("Package"), !package.isEmpty else {
            throw .missingField("Package", package: nil, line: control.line)
        }
        guard DpkgStatus.isValidPackageName(package) else {
            throw .invalidValue(field: "Package", value: package, package: package, line: packageField.line)
        }
        var fields: [DpkgField] = []
        var version: String?
        var architecture: String?
        var multiArch: String?
        for field in control.fields {
            let name = field.name(in: control)
            let lower = name.lowercased()
            if DpkgStatus.privateFields.contains(lower) { continue }
            let canonicalName = DpkgStatus.canonicalName[lower] ?? name
            var value = try DpkgStatus.verbatimValue(field, in: control)
            let invalid = { () -> ControlFileError in
                .invalidValue(field: canonicalName, value: value, package: package, line: field.line)
            }
            switch lower {
            case "package":
                value = package
            case "version":
                guard let parsed = try? DebianVersion(value) else { throw invalid() }
                value = DpkgStatus.canonical(parsed)
                version = value
            case "architecture":
                guard DpkgStatus.isValidArchitecture(value) else { throw invalid() }
                architecture = value
            case "multi-arch":
                let word = value.lowercased()
                guard ["no", "same", "foreign", "allowed"].contains(word) else { throw invalid() }
                if word == "no" { continue }
                value = word
                multiArch = word
            case "essential", "protected":
                let word = value.lowercased()
                guard word == "yes" || word == "no" else { throw invalid() }
                if word == "no" { continue }
                value = word
            case _ where DpkgStatus.relationFields.contains(lower):
                let joined = try field.lines(in: control).joined(separator: " ")
                guard let relations = try? RelationList(parsing: joined) else { throw invalid() }
                value = DpkgStatus.canonical(relations)
            default:
                break
            }
            fields.append(DpkgField(name: canonicalName, value: value))
        }
        guard let version else { throw .missingField("Version", package: package, line: control.line) }
        guard let architecture else { throw .missingField("Architecture", package: package, line: control.line) }
        self.init(package: package, version: version, architecture: architecture, multiArch: multiArch,
                  fields: fields, conffiles: conffiles)
    }

    /// An entry from parts already checked by the caller (`fields` as they should be written).
    public init(package: String, version: String, architecture: String, multiArch: String?,
                fields: [DpkgField], conffiles: [DpkgConffile]) {
        self.package = package
        self.version = version
        self.architecture = architecture
        self.multiArch = multiArch
        self.fields = fields
        self.conffiles = conffiles
    }
}

/// Renders `/var/lib/dpkg/status`.
///
/// Guarantees: the output is a pure function of the entries (sorted by package name, then
/// architecture, whatever order they come in), byte-identical to what dpkg writes for the same
/// packages in the same state, and readable by `dpkg-query --admindir`.
public enum DpkgStatus {
    /// What a package unpacked but not configured is: dpkg flips it to `install ok installed`
    /// when it configures the package.
    public static let unpacked = "install ok unpacked"
    public static let installed = "install ok installed"

    /// The whole status file: one paragraph per entry, each followed by one blank line.
    /// Fields come in dpkg's order (its `fieldinfos` table: Package, Essential, Protected,
    /// Status, Priority, Section, Installed-Size, Origin, Maintainer, Bugs, Architecture,
    /// Multi-Arch, Source, Version, Config-Version, Replaces, Provides, Depends, Pre-Depends,
    /// Recommends, Suggests, Breaks, Conflicts, Enhances, Conffiles, Filename, Size, MD5sum,
    /// MSDOS-Filename, Description, Triggers-Pending, Triggers-Awaited), then every other
    /// field in its original order.
    public static func render(_ entries: [DpkgStatusEntry], status: String = unpacked) -> [UInt8] {
        let sorted = entries.sorted { ($0.package, $0.architecture) < ($1.package, $1.architecture) }
        var out: [UInt8] = []
        for entry in sorted { append(entry, status: status, to: &out) }
        return out
    }

    /// One paragraph with its trailing blank line.
    public static func paragraph(_ entry: DpkgStatusEntry, status: String = unpacked) -> [UInt8] {
        var out: [UInt8] = []
        append(entry, status: status, to: &out)
        return out
    }

    static func append(_ entry: DpkgStatusEntry, status: String, to out: inout [UInt8]) {
        var known: [Int: DpkgField] = [:]
        var others: [DpkgField] = []
        for field in entry.fields {
            if let rank = order[field.name.lowercased()] { known[rank] = field } else { others.append(field) }
        }
        known[order["status"]!] = DpkgField(name: "Status", value: status)
        if !entry.conffiles.isEmpty {
            let lines = entry.conffiles.map { conffile in
                ([" " + conffile.path, conffile.hash] + conffile.flags).joined(separator: " ")
            }
            known[order["conffiles"]!] = DpkgField(name: "Conffiles", value: "\n" + lines.joined(separator: "\n"))
        }
        for rank in known.keys.sorted() { write(known[rank]!, to: &out) }
        for field in others { write(field, to: &out) }
        out.append(0x0A)
    }

    private static func write(_ field: DpkgField, to out: inout [UInt8]) {
        out.append(contentsOf: field.name.utf8)
        out.append(UInt8(ascii: ":"))
        if !field.value.hasPrefix("\n") { out.append(0x20) }
        out.append(contentsOf: field.value.utf8)
        out.append(0x0A)
    }

    /// `PKG`, or `PKG:ARCH` when `multiArch` is `same`.
    public static func infoName(package: String, architecture: String, multiArch: String?) -> String {
        multiArch == "same" ? "\(package):\(architecture)" : package
    }

    // MARK: - dpkg's rules

    static let fieldOrder = [
        "Package", "Essential", "Protected", "Status", "Priority", "Section", "Installed-Size", "Origin",
        "Maintainer", "Bugs", "Architecture", "Multi-Arch", "Source", "Version", "Config-Version",
        "Replaces", "Provides", "Depends", "Pre-Depends", "Recommends", "Suggests", "Breaks", "Conflicts",
        "Enhances", "Conffiles", "Filename", "Size", "MD5sum", "MSDOS-Filename", "Description",
        "Triggers-Pending", "Triggers-Awaited",
    ]
    static let order: [String: Int] = Dictionary(uniqueKeysWithValues: fieldOrder.enumerated().map { ($1.lowercased(), $0) })
    static let canonicalName: [String: String] = Dictionary(uniqueKeysWithValues: fieldOrder.map { ($0.lowercased(), $0) })
    /// Fields dpkg keeps about the installation, never copied from a control file.
    static let privateFields: Set<String> = ["status", "conffiles", "config-version", "triggers-pending", "triggers-awaited"]
    static let relationFields: Set<String> = [
        "replaces", "provides", "depends", "pre-depends", "recommends", "suggests", "breaks", "conflicts", "enhances",
    ]

    /// dpkg's `pkg_name_is_illegal`: an alphanumeric first character, then alphanumerics and
    /// `-+._`; at least two characters are policy, one is what dpkg accepts.
    static func isValidPackageName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, isAlnum(first) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == 0x2D || $0 == 0x2B || $0 == 0x2E || $0 == 0x5F }
    }

    static func isValidArchitecture(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, isAlnum(first) else { return false }
        return bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    /// dpkg's `varbufversion(…, vdew_nonambig)`: the epoch only when it is not 0 (or the
    /// upstream version holds a colon), the revision only when not empty.
    static func canonical(_ version: DebianVersion) -> String {
        var text = ""
        let upstream = version.upstreamVersion
        if version.epoch != 0 || upstream.contains(":") { text += "\(version.epoch):" }
        text += upstream
        if let revision = version.revision, !revision.isEmpty { text += "-" + revision }
        return text
    }

    /// dpkg's `varbufdependency`: `name[:arch] [(op version)]`, alternatives joined by ` | `,
    /// clauses by `, `.
    static func canonical(_ relations: RelationList) -> String {
        relations.clauses.map { clause in
            clause.map { relation in
                var text = relation.name
                if let qualifier = relation.architectureQualifier { text += ":\(qualifier)" }
                if let constraint = relation.versionConstraint {
                    text += " (\(constraint.relation.rawValue) \(canonical(constraint.version)))"
                }
                if let restriction = relation.architectureRestriction { text += " \(restriction)" }
                return text
            }.joined(separator: " | ")
        }.joined(separator: ", ")
    }

    /// The field's value as dpkg keeps it: the first line without surrounding blanks, every
    /// continuation line as written (column-0 `#` comment lines dropped, a CR before the
    /// newline dropped), trailing whitespace of the whole value removed.
    static func verbatimValue(_ field: ControlField, in paragraph: ControlParagraph) throws(ControlFileError) -> String {
        let bytes = paragraph.storage[field.valueRange]
        var lines: [ArraySlice<UInt8>] = []
        for (index, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var line = line
            if line.last == 0x0D { line = line.dropLast() }
            if index == 0 {
                while let c = line.first, c == 0x20 || c == 0x09 { line = line.dropFirst() }
            } else if line.first == 0x23 {
                continue
            }
            lines.append(line)
        }
        var joined: [UInt8] = Array(lines.joined(separator: [0x0A]))
        while let c = joined.last, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { joined.removeLast() }
        guard let text = String(validating: joined, as: UTF8.self) else { throw .invalidUTF8(line: field.line) }
        return text
    }
}

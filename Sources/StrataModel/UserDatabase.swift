/// The identity a session's process runs as, after the manifest's `user` was looked up
/// in the environment's `/etc/passwd` and `/etc/group`.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    /// The primary group.
    public var gid: UInt32
    /// The groups of `/etc/group` that list the user by name, in file order, each once,
    /// never the primary `gid`.
    public var supplementaryGroups: [UInt32]
    /// The passwd entry's name; nil for a numeric uid that `/etc/passwd` does not know.
    public var name: String?
    /// `HOME` for the session: the passwd entry's home, or `/` without one.
    public var home: String

    public init(uid: UInt32, gid: UInt32, supplementaryGroups: [UInt32] = [], name: String? = nil, home: String = "/") {
        self.uid = uid; self.gid = gid; self.supplementaryGroups = supplementaryGroups; self.name = name; self.home = home
    }
}

/// A `user` that cannot be turned into ids.
public enum UserResolutionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec is not `USER[:GROUP]` with non-empty parts and ids below 2^32-1.
    case invalidSpec(spec: String, problem: String)
    /// A user name that the environment's `/etc/passwd` does not list.
    case unknownUser(name: String)
    /// A user name, but the environment has no `/etc/passwd` to look it up in.
    case noPasswdFile(user: String)
    /// A group name that the environment's `/etc/group` does not list.
    case unknownGroup(name: String)
    /// A group name, but the environment has no `/etc/group` to look it up in.
    case noGroupFile(group: String)

    public var description: String {
        switch self {
        case .invalidSpec(let spec, let problem):
            return "user \(spec.debugDescription) \(problem); write NAME or UID, optionally followed by \":GROUP\" or \":GID\", such as \"1000:1000\""
        case .unknownUser(let name):
            return "user \"\(name)\" is not in the environment's /etc/passwd; create the user in the environment or give a numeric uid such as \"1000\""
        case .noPasswdFile(let user):
            return "user \"\(user)\" cannot be looked up because the environment has no /etc/passwd; add one or give a numeric uid such as \"1000\""
        case .unknownGroup(let name):
            return "group \"\(name)\" is not in the environment's /etc/group; create the group in the environment or give a numeric gid such as \"1000\""
        case .noGroupFile(let group):
            return "group \"\(group)\" cannot be looked up because the environment has no /etc/group; add one or give a numeric gid such as \"1000\""
        }
    }
}

/// Resolves a Docker-style `user` against an environment's `/etc/passwd` and `/etc/group`
/// text, with the semantics of runc/moby (`GetExecUser`) plus supplementary groups in the
/// explicit `USER:GROUP` form too (moby and containerd after CVE-2022-36109/CVE-2023-25173).
///
/// Pure parsing: the caller reads the files out of the environment's layers, so no
/// name service code from the environment ever runs on the host.
public enum UserDatabase {
    /// Resolves `NAME`, `UID`, `UID:GID`, `NAME:GROUP`, `UID:GROUP` or `NAME:GID`; an empty
    /// spec means uid 0, as an empty `User` in an OCI image config does.
    ///
    /// `passwd` and `group` are the files' contents, nil when the environment lacks them.
    /// A numeric uid or gid is accepted whether or not the files list it; names must exist.
    public static func resolve(_ spec: String, passwd: String?, group: String?) throws(UserResolutionError) -> ResolvedUser {
        let parsed: UserSpec
        if spec.isEmpty {
            parsed = UserSpec(user: .id(0), group: nil)
        } else {
            switch UserSpec.parse(spec) {
            case .success(let value): parsed = value
            case .failure(let problem): throw .invalidSpec(spec: spec, problem: problem.problem)
            }
        }

        let users = passwd.map(passwdEntries) ?? []
        var resolved = ResolvedUser(uid: 0, gid: 0)
        switch parsed.user {
        case .id(let uid):
            resolved.uid = uid
            // First entry wins, as in libc and runc.
            if let entry = users.first(where: { $0.uid == uid }) {
                resolved.gid = entry.gid; resolved.name = entry.name; resolved.home = entry.home
            }
        case .name(let name):
            guard passwd != nil else { throw .noPasswdFile(user: name) }
            guard let entry = users.first(where: { $0.name == name }) else { throw .unknownUser(name: name) }
            resolved.uid = entry.uid; resolved.gid = entry.gid; resolved.name = entry.name; resolved.home = entry.home
        }

        let groups = group.map(groupEntries) ?? []
        switch parsed.group {
        case nil: break
        case .id(let gid): resolved.gid = gid
        case .name(let name):
            guard group != nil else { throw .noGroupFile(group: name) }
            guard let entry = groups.first(where: { $0.name == name }) else { throw .unknownGroup(name: name) }
            resolved.gid = entry.gid
        }

        if let name = resolved.name {
            for entry in groups where entry.gid != resolved.gid && entry.members.contains(name) {
                if !resolved.supplementaryGroups.contains(entry.gid) { resolved.supplementaryGroups.append(entry.gid) }
            }
        }
        return resolved
    }

    /// The first passwd entry for `uid` (as libc's getpwuid), with its groups from `group`;
    /// nil when the file has none.
    public static func user(uid: UInt32, passwd: String?, group: String?) -> ResolvedUser? {
        guard let passwd, let entry = passwdEntries(passwd).first(where: { $0.uid == uid }) else { return nil }
        let groups = group.map(groupEntries) ?? []
        var supplementary: [UInt32] = []
        for item in groups where item.members.contains(entry.name) && item.gid != entry.gid && !supplementary.contains(item.gid) {
            supplementary.append(item.gid)
        }
        return ResolvedUser(uid: uid, gid: entry.gid, supplementaryGroups: supplementary, name: entry.name, home: entry.home)
    }

    /// Whether `group` has an entry for `gid`.
    public static func hasGroup(_ gid: UInt32, group: String?) -> Bool {
        group.map { groupEntries($0).contains { $0.gid == gid } } ?? false
    }

    struct PasswdEntry {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    struct GroupEntry {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    /// `name:password:uid:gid:gecos:home:shell` lines; lines libc would not return are skipped.
    static func passwdEntries(_ text: String) -> [PasswdEntry] {
        records(text).compactMap { line in
            let fields = split(line, maxSplits: 6)
            guard fields.count == 7, isEntryName(fields[0]), let uid = id(fields[2]), let gid = id(fields[3]) else { return nil }
            return PasswdEntry(name: String(fields[0]), uid: uid, gid: gid, home: fields[5].isEmpty ? "/" : String(fields[5]))
        }
    }

    /// `name:password:gid[:member,member…]` lines; lines libc would not return are skipped.
    static func groupEntries(_ text: String) -> [GroupEntry] {
        records(text).compactMap { line in
            let fields = split(line, maxSplits: 3)
            guard fields.count >= 3, isEntryName(fields[0]), let gid = id(fields[2]) else { return nil }
            let members = fields.count == 4 ? fields[3].utf8.split(separator: UInt8(ascii: ",")).map { String(Substring($0)) } : []
            return GroupEntry(name: String(fields[0]), gid: gid, members: members)
        }
    }

    /// Lines without surrounding blanks, minus empty lines and `#` comments.
    static func records(_ text: String) -> [Substring] {
        // Bytes, not Characters: "\r\n" and ":" followed by a combining mark are single
        // Characters, but libc splits on the bytes.
        text.utf8.split(separator: UInt8(ascii: "\n")).compactMap { bytes in
            let raw = Substring(bytes)
            guard let first = raw.firstIndex(where: { !isBlank($0) }), let last = raw.lastIndex(where: { !isBlank($0) }) else { return nil }
            let line = raw[first...last]
            return line.hasPrefix("#") ? nil : line
        }
    }

    /// The `:`-separated fields of a line, the last one holding the rest.
    static func split(_ line: Substring, maxSplits: Int) -> [Substring] {
        line.utf8.split(separator: UInt8(ascii: ":"), maxSplits: maxSplits, omittingEmptySubsequences: false).map { Substring($0) }
    }

    static func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" }

    /// `+`/`-` lines are NIS compat entries, which nss_files does not return as users.
    static func isEntryName(_ name: Substring) -> Bool {
        !name.isEmpty && !name.hasPrefix("+") && !name.hasPrefix("-")
    }

    /// A decimal id below 2^32-1 ((uid_t)-1 means "no id" to the kernel).
    static func id<S: StringProtocol>(_ text: S) -> UInt32? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = UInt64(text), value < UInt64(UInt32.max) else { return nil }
        return UInt32(value)
    }
}

/// A syntactically valid `USER[:GROUP]`; the manifest decoder and `UserDatabase` share it.
struct UserSpec: Equatable {
    enum Part: Equatable {
        case id(UInt32)
        case name(String)
    }

    struct Problem: Error, Equatable {
        var problem: String
    }

    var user: Part
    var group: Part?

    static func parse(_ spec: String) -> Result<UserSpec, Problem> {
        if spec.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
            return .failure(Problem(problem: "contains a control character (NUL, newline, …)"))
        }
        let parts = UserDatabase.split(Substring(spec), maxSplits: Int.max)
        if parts.count > 2 { return .failure(Problem(problem: "has more than one \":\"")) }
        let user: Part
        switch part(parts[0], what: "user") {
        case .success(let value): user = value
        case .failure(let problem): return .failure(problem)
        }
        guard parts.count == 2 else { return .success(UserSpec(user: user, group: nil)) }
        return part(parts[1], what: "group").map { UserSpec(user: user, group: $0) }
    }

    private static func part(_ text: Substring, what: String) -> Result<Part, Problem> {
        if text.isEmpty { return .failure(Problem(problem: "has an empty \(what)")) }
        let digits = text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        if digits {
            guard let id = UserDatabase.id(text) else {
                return .failure(Problem(problem: "has a \(what) id above 4294967294"))
            }
            return .success(.id(id))
        }
        if text.hasPrefix("-") || text.hasPrefix("+") {
            return .failure(Problem(problem: "has a \(what) starting with \"\(text.prefix(1))\""))
        }
        return .success(.name(String(text)))
    }
}

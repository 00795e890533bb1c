import Testing
@testable import StrataModel

@Suite struct UserDatabaseTests {
    let passwd = """
    root:x:0:0:root:/root:/bin/bash
    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
    # a comment, then a blank line

    app:x:1000:1000:App,,,:/home/app:/bin/sh
    a line without fields
    bad:x:notanumber:5::/:/bin/sh
    short:x:7:7
    +nis:x:5:5::/:
    dup:x:1001:1001::/home/dup:/bin/sh
    dup:x:1002:1002::/home/dup2:/bin/sh
    nohome:x:1003:1003:::/bin/sh
    big:x:4294967294:4294967294::/home/big:/bin/sh
    toobig:x:4294967295:0::/:/bin/sh
    crlf:x:1004:1004::/home/crlf:/bin/sh\r

    """

    let group = """
    root:x:0:
    wheel:x:10:app,other
    # comment
    audio:x:29:app
    app:x:1000:app
    staff:x:50:other
    audio-again:x:29:app
    nolist:x:60
    malformed
    weird:x:abc:app
    big:x:4294967294:big
    """

    func resolve(_ spec: String, passwd: String?? = .none, group: String?? = .none) throws(UserResolutionError) -> ResolvedUser {
        try UserDatabase.resolve(spec, passwd: passwd ?? self.passwd, group: group ?? self.group)
    }

    @Test func nameTakesThePasswdEntryAndItsGroups() throws {
        let app = ResolvedUser(uid: 1000, gid: 1000, supplementaryGroups: [10, 29], name: "app", home: "/home/app")
        #expect(try resolve("app") == app)
        // A numeric uid that passwd lists is that user, groups included.
        #expect(try resolve("1000") == app)
    }

    @Test func numericUidNotInPasswd() throws {
        #expect(try resolve("5555") == ResolvedUser(uid: 5555, gid: 0, supplementaryGroups: [], name: nil, home: "/"))
        #expect(try resolve("5555:wheel") == ResolvedUser(uid: 5555, gid: 10, name: nil, home: "/"))
        #expect(try resolve("5555:77") == ResolvedUser(uid: 5555, gid: 77, name: nil, home: "/"))
    }

    @Test func explicitGroupKeepsSupplementaryGroups() throws {
        // The primary group is left out of the supplementary list; "app" (1000) is now supplementary.
        #expect(try resolve("app:audio") == ResolvedUser(uid: 1000, gid: 29, supplementaryGroups: [10, 1000], name: "app", home: "/home/app"))
        #expect(try resolve("app:4242") == ResolvedUser(uid: 1000, gid: 4242, supplementaryGroups: [10, 29, 1000], name: "app", home: "/home/app"))
        #expect(try resolve("1000:10").supplementaryGroups == [29, 1000])
        #expect(try resolve("daemon:staff") == ResolvedUser(uid: 1, gid: 50, name: "daemon", home: "/usr/sbin"))
    }

    @Test func rootByDefault() throws {
        let root = ResolvedUser(uid: 0, gid: 0, name: "root", home: "/root")
        #expect(try resolve("0") == root)
        #expect(try resolve("root") == root)
        #expect(try resolve("") == root)
        #expect(try resolve("0", passwd: .some(nil), group: .some(nil)) == ResolvedUser(uid: 0, gid: 0, home: "/"))
    }

    @Test func unknownNamesAreErrors() {
        #expect(throws: UserResolutionError.unknownUser(name: "nobody")) { try resolve("nobody") }
        #expect(throws: UserResolutionError.unknownGroup(name: "nogroup")) { try resolve("app:nogroup") }
        #expect(throws: UserResolutionError.noPasswdFile(user: "app")) { try resolve("app", passwd: .some(nil)) }
        #expect(throws: UserResolutionError.noGroupFile(group: "staff")) { try resolve("app:staff", group: .some(nil)) }
        #expect(UserResolutionError.unknownUser(name: "nobody").description
            == "user \"nobody\" is not in the environment's /etc/passwd; create the user in the environment or give a numeric uid such as \"1000\"")
        #expect(UserResolutionError.noGroupFile(group: "staff").description.contains("has no /etc/group"))
    }

    @Test func numericIdsNeedNoFiles() throws {
        #expect(try resolve("1000:1000", passwd: .some(nil), group: .some(nil)) == ResolvedUser(uid: 1000, gid: 1000, home: "/"))
        #expect(try resolve("app:50", group: .some(nil)) == ResolvedUser(uid: 1000, gid: 50, name: "app", home: "/home/app"))
    }

    @Test func malformedLinesAreSkipped() throws {
        #expect(throws: UserResolutionError.unknownUser(name: "bad")) { try resolve("bad") }
        #expect(throws: UserResolutionError.unknownUser(name: "short")) { try resolve("short") }
        #expect(throws: UserResolutionError.unknownUser(name: "toobig")) { try resolve("toobig") }
        #expect(throws: UserResolutionError.unknownGroup(name: "malformed")) { try resolve("app:malformed") }
        #expect(throws: UserResolutionError.unknownGroup(name: "weird")) { try resolve("app:weird") }
        #expect(try resolve("app:nolist").gid == 60)
        // First entry wins, as in libc.
        #expect(try resolve("dup") == ResolvedUser(uid: 1001, gid: 1001, name: "dup", home: "/home/dup"))
        #expect(try resolve("nohome").home == "/")
        #expect(try resolve("crlf").home == "/home/crlf")
        // Windows line ends: the member list is the last field, where a "\r" would stick.
        #expect(try resolve("app", group: "wheel:x:10:app\r\nstaff:x:50:app\r\n").supplementaryGroups == [10, 50])
    }

    @Test func largeIds() throws {
        #expect(try resolve("big") == ResolvedUser(uid: 4_294_967_294, gid: 4_294_967_294, name: "big", home: "/home/big"))
        #expect(try resolve("4294967294:4294967294").name == "big")
        #expect(try resolve("4294967293:big") == ResolvedUser(uid: 4_294_967_293, gid: 4_294_967_294, home: "/"))
    }

    @Test func invalidSpecs() {
        for spec in ["a:b:c", "app:", ":1000", "4294967295", "1000:99999999999999999999", "-1", "+app", "a\nb", "a\u{0}b"] {
            #expect(throws: UserResolutionError.self, "\(spec.debugDescription)") { try resolve(spec) }
            do {
                _ = try resolve(spec)
            } catch {
                guard case .invalidSpec = error else { Issue.record("\(spec.debugDescription): \(error)"); continue }
                #expect(!error.description.contains("\n"))
            }
        }
    }
}

import Testing
@testable import StrataRegistry

@Suite struct AuthChallengeTests {
    @Test func dockerHubsBearerChallenge() {
        let header = #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull""#
        #expect(AuthChallenge.parse(header) == [AuthChallenge(scheme: "bearer", parameters: [
            "realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/debian:pull",
        ])])
    }

    @Test func severalChallengesAndSpacing() {
        let header = #"Basic realm="Registry Realm" , Bearer realm="https://t.example/token", service=reg,scope="repository:a:pull,push repository:b:pull""#
        #expect(AuthChallenge.parse(header) == [
            AuthChallenge(scheme: "basic", parameters: ["realm": "Registry Realm"]),
            AuthChallenge(scheme: "bearer", parameters: [
                "realm": "https://t.example/token", "service": "reg", "scope": "repository:a:pull,push repository:b:pull",
            ]),
        ])
    }

    @Test func caseEscapesToken68AndBareSchemes() {
        #expect(AuthChallenge.parse(#"BASIC Realm="a \"quoted\" \\ realm""#)
            == [AuthChallenge(scheme: "basic", parameters: ["realm": #"a "quoted" \ realm"#])])
        #expect(AuthChallenge.parse("Negotiate abc+/=, Basic realm=x")
            == [AuthChallenge(scheme: "negotiate", token68: "abc+/="), AuthChallenge(scheme: "basic", parameters: ["realm": "x"])])
        #expect(AuthChallenge.parse("Negotiate, Basic") == [AuthChallenge(scheme: "negotiate"), AuthChallenge(scheme: "basic")])
        #expect(AuthChallenge.parse(#"Bearer realm="r", realm="second""#).first?.realm == "r", "the first of a name wins")
    }

    @Test func unreadableEndsTheList() {
        #expect(AuthChallenge.parse("").isEmpty)
        #expect(AuthChallenge.parse(#"Bearer realm="unterminated"#) == [AuthChallenge(scheme: "bearer")])
        #expect(AuthChallenge.parse("Basic realm=x; Bearer") == [AuthChallenge(scheme: "basic", parameters: ["realm": "x"])])
    }
}

import Foundation
import Testing
@testable import StrataDebian

@Suite struct AptSourcesTests {
    /// An apt configuration root with the given files (path relative to it → text).
    func root(_ files: [String: String]) throws -> String {
        let dir = NSTemporaryDirectory() + "strata-apt-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir + "/sources.list.d", withIntermediateDirectories: true)
        for (path, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + path)) }
        return dir
    }

    @Test func readsBothFormatsInAptsOrder() throws {
        let dir = try root([
            "sources.list": """
            # a comment line
            deb http://one.example/debian bookworm main
            deb-src http://src.example/debian bookworm main
            deb [arch=amd64 signed-by=/k.gpg] http://two.example/debian bookworm main contrib # trailing comment
            deb http://other.example/debian trixie main
            """,
            "sources.list.d/b.sources": """
            Types: deb deb-src
            # a comment inside the stanza
            URIs: http://three.example/debian
              http://four.example/debian
            Suites: bookworm bookworm-updates
            Components: main

            Types: deb
            URIs: http://off.example/debian
            Suites: bookworm
            Enabled: no

            Types: deb
            URIs: http://security.example/debian-security
            Suites: bookworm-security
            """,
            "sources.list.d/a.list": "deb http://one.example/debian bookworm main\n",
            "sources.list.d/c.list.disabled": "deb http://never.example/debian bookworm main\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(AptSources.mirrors(forSuite: "bookworm", root: dir) == [
            "http://one.example/debian", "http://two.example/debian",
            "http://three.example/debian", "http://four.example/debian",
        ])
        #expect(AptSources.mirrors(forSuite: "bookworm-security", root: dir) == ["http://security.example/debian-security"])
        #expect(AptSources.mirrors(forSuite: "trixie", root: dir) == ["http://other.example/debian"])
        #expect(AptSources.mirrors(forSuite: "sid", root: dir).isEmpty)
    }

    @Test func missingConfigurationIsNoMirror() {
        #expect(AptSources.mirrors(forSuite: "bookworm", root: "/nonexistent/apt").isEmpty)
    }
}

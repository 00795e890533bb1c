import Glibc
import StrataEngineTestSupport
import StrataEnvironment
import StrataJSON
import StrataModel
import StrataOCI
import StrataOS
import Testing
@testable import StrataImages

@Suite("Images: tags, archives, root filesystems")
struct ImageStoreTests {
    @Test("a root filesystem tarball becomes a one-layer image; tags move; archives round-trip")
    func importTagSaveLoad() throws {
        let fixture = try EngineFixture()
        let tarball = fixture.project + "/" + (try fixture.busyboxRoot()).dropFirst(3)
        let images = ImageStore(store: fixture.store, context: fixture.context)
        #expect(!images.isImageArchive(tarball), "a root filesystem is not an image archive")
        let id = try images.importRootfs(tarball, options: RootfsImportOptions(
            reference: try ImageReference(parsing: "base:1"), changes: [#"CMD ["/bin/sh"]"#], message: "from a test", sourceDateEpoch: 0))
        let listed = try images.list()
        #expect(listed.map(\.reference) == ["base:1"] && listed.first?.manifest == id && listed.first?.layers == 1)
        let inspected = try images.inspect("base:1")
        #expect(inspected["Config"]?["Cmd"] == .array([.string("/bin/sh")]))
        #expect(inspected["Created"] == .string("1970-01-01T00:00:00Z"))

        try images.tag("base:1", as: try ImageReference(parsing: "copy:2"))
        #expect(try images.untag("base:1") == "base:1")
        #expect(try images.list().map(\.reference) == ["copy:2"])

        let saved = fixture.base + "/copy.tar"
        try images.save("copy:2", format: .dockerArchive, to: saved)
        #expect(images.isImageArchive(saved))
        #expect(try images.load(saved, tag: try ImageReference(parsing: "again:3")) == ["again:3"])
        #expect(try images.inspect("again:3")["RootFS"] == inspected["RootFS"], "the same layer")
    }

    @Test("a file that is not a tar stores nothing")
    func notATarball() throws {
        let fixture = try EngineFixture()
        try fixture.write("text.tar", "not a tar at all, just some words\n")
        let images = ImageStore(store: fixture.store, context: fixture.context)
        let blobs = try Directory.names(fixture.store.root + "/blobs/sha256")
        #expect(throws: StrataError.self) {
            _ = try images.importRootfs(fixture.project + "/text.tar", options: RootfsImportOptions(reference: try ImageReference(parsing: "x:1")))
        }
        #expect(try Directory.names(fixture.store.root + "/blobs/sha256") == blobs)
        #expect(try images.list().isEmpty)
        #expect(try Directory.names(fixture.store.temporaryDirectory).isEmpty)
    }

    @Test("--change takes Dockerfile instructions and refuses the rest with one sentence")
    func changes() throws {
        var config = ImageRuntimeConfig()
        let changes = try ["ENV A=1 B=\"two words\"", "CMD echo hi", "WORKDIR /w", "LABEL team=infra", "USER 1000"].map(ImageChange.init(parsing:))
        ImageChange.apply(changes, to: &config)
        #expect(config.env == ["A=1", "B=two words"])
        #expect(config.cmd == ["/bin/sh", "-c", "echo hi"])
        #expect(config.workingDir == "/w" && config.user == "1000" && config.labels == ["team": "infra"])
        for bad in ["FROM x", "WORKDIR relative", "CMD [\"unclosed\"", "ENV", ""] {
            #expect(throws: StrataError.self, "\(bad)") { _ = try ImageChange(parsing: bad) }
        }
    }
}

import Foundation
import Testing
@testable import StrataModel

@Suite struct LockfileTests {
    static let a = Digest.sha256(of: Array("a".utf8))
    static let b = Digest.sha256(of: Array("b".utf8))

    static let sample = Lockfile(
        manifestDigest: a, platform: Platform(os: "linux", architecture: "amd64"),
        base: .image(reference: "oci:img:latest", manifestDigest: b,
                     config: ImageDefaults(env: ["PATH=/bin"], workingDir: "/", entrypoint: nil, cmd: ["/bin/sh"])),
        steps: [
            .layer(LockedLayer(source: .image(reference: "oci:img:latest"), digest: a, diffID: b, size: 10)),
            .layer(LockedLayer(source: .copy(from: "./files", to: "/opt"), digest: b, diffID: b, size: 20)),
            .layer(LockedLayer(source: .tar(path: "x.tar.gz"), digest: a, diffID: b, size: 30)),
            .run(Manifest.RunStep(command: .shell("make install"), env: ["A": "b"], workdir: "/src", user: "app",
                                  network: .host, cache: ["/root/.cache"])),
            .run(Manifest.RunStep(command: .argv(["true", "x"]))),
        ])

    @Test func roundTrips() throws {
        let bytes = Self.sample.encoded()
        #expect(try Lockfile.decode(bytes, file: "l") == Self.sample)
        #expect(Self.sample.encoded() == bytes, "encoding is stable")
        #expect(bytes.last == 0x0a)
    }

    @Test func aRegistryBaseKeepsWhereItWasPinned() throws {
        var pinned = Self.sample
        pinned.base = .image(reference: "localhost:5000/team/app:1", manifestDigest: Self.b, config: ImageDefaults(),
                             registry: RegistryPin(repository: "localhost:5000/team/app", index: Self.a))
        let bytes = pinned.encoded()
        #expect(try Lockfile.decode(bytes, file: "l") == pinned)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""registry": {"#) && text.contains(#""index": "\#(Self.a)""#))
        #expect(!String(decoding: Self.sample.encoded(), as: UTF8.self).contains("registry"), "a store image's lock says nothing of registries")
        pinned.base = .image(reference: "r/a:1", manifestDigest: Self.b, config: ImageDefaults(), registry: RegistryPin(repository: "r/a"))
        #expect(try Lockfile.decode(pinned.encoded(), file: "l") == pinned)
    }

    @Test func refusesOtherVersionsAndBadDigests() {
        var text = String(decoding: Self.sample.encoded(), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"lockfileVersion\": 1", with: "\"lockfileVersion\": 99")
        #expect(throws: LockfileError.self) { try Lockfile.decode(Array(text.utf8), file: "l") }
        let bad = String(decoding: Self.sample.encoded(), as: UTF8.self).replacingOccurrences(of: "sha256:", with: "md5:")
        #expect(throws: LockfileError.self) { try Lockfile.decode(Array(bad.utf8), file: "l") }
    }

    @Test func snapshotIsTheChainID() {
        var pinned = Self.sample
        pinned.steps = pinned.steps.filter { $0.layer != nil }
        #expect(pinned.snapshotID == Digest.chainID(of: [Self.b, Self.b, Self.b]))
        #expect(Self.sample.snapshotID == nil, "a run step's layer is known only once it has run")
        #expect(Self.sample.unreproducibleSteps.count == 1)
    }
}

import Testing
@testable import StrataModel

@Suite struct DigestTests {
    @Test func parsesOnlyLowercaseSha256() throws {
        let hex = String(repeating: "ab", count: 32)
        #expect(try Digest(parsing: "sha256:" + hex).hex == hex)
        #expect(throws: DigestError.self) { try Digest(parsing: "sha256:" + hex.uppercased()) }
        #expect(throws: DigestError.unsupportedAlgorithm("sha512")) { try Digest(parsing: "sha512:" + hex) }
        #expect(throws: DigestError.self) { try Digest(parsing: "sha256:abc") }
        #expect(throws: DigestError.self) { try Digest(parsing: hex) }
    }

    @Test func sha256OfKnownInputs() {
        #expect(Digest.sha256(of: [UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256(of: Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256(of: [UInt8](repeating: 0, count: 1024)).hex
                == "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
    }

    @Test func chainIDFollowsTheOCISpec() throws {
        let a = Digest.sha256(of: Array("a".utf8)), b = Digest.sha256(of: Array("b".utf8)), c = Digest.sha256(of: Array("c".utf8))
        #expect(Digest.chainID(of: []) == nil)
        #expect(Digest.chainID(of: [a]) == a)
        let ab = Digest.sha256(of: Array("\(a) \(b)".utf8))
        #expect(Digest.chainID(of: [a, b]) == ab)
        #expect(Digest.chainID(of: [a, b, c]) == Digest.sha256(of: Array("\(ab) \(c)".utf8)))
    }
}

import Testing
@testable import StrataRegistry

@Suite struct RegistryErrorBodyTests {
    @Test func theSpecsDocument() {
        let body = RegistryErrorBody(Array(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"NAME_UNKNOWN","message":""}]}"#.utf8))
        #expect(body.summary == "MANIFEST_UNKNOWN: manifest unknown; NAME_UNKNOWN")
        #expect(body.isUnknown)
        #expect(RegistryErrorBody(Array(#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#.utf8)).summary
            == "DENIED: requested access to the resource is denied")
    }

    @Test func textEmptyAndBinaryBodies() {
        #expect(RegistryErrorBody(Array("\n  502 Bad Gateway  \nnginx\n".utf8)).summary == "502 Bad Gateway")
        #expect(RegistryErrorBody([]).summary == nil)
        #expect(RegistryErrorBody([0x1f, 0x8b, 0x08, 0x00]).summary == nil, "control bytes are not a sentence")
        #expect(RegistryErrorBody(Array(#"{"errors": []}"#.utf8)).summary == #"{"errors": []}"#)
        #expect(RegistryErrorBody(Array(String(repeating: "x", count: 500).utf8)).summary?.count == 200)
    }
}

import Foundation
import Testing
@testable import StrataDebian

/// Errors reach the CLI through `description`: one sentence naming the file, not a Swift dump.
@Suite struct ErrorTextTests {
    @Test func notADebSaysSo() throws {
        let path = NSTemporaryDirectory() + "strata-not-a-deb-\(getpid())"
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        do {
            _ = try DebPackage.read(path: path)
            Issue.record("a text file was read as a .deb")
        } catch {
            #expect(error.description.hasPrefix("\(path) is not a .deb"), "\(error.description)")
            #expect(DebLayerError.package(error).description == error.description)
        }
    }

    @Test func controlFileErrorsNameTheLine() {
        #expect(ControlFileError.missingColon(line: 3).description == "line 3 is not \"Name: value\"")
        #expect(ControlFileError.missingField("Version", package: "bash", line: 7).description
                == "the paragraph at line 7 (bash) has no Version field")
    }
}

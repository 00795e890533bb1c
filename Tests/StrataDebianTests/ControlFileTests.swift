import Testing
@testable import StrataDebian

@Suite struct ControlFileTests {
    func parse(_ text: String) throws(ControlFileError) -> [ControlParagraph] {
        try ControlFile.parse(Array(text.utf8))
    }

    @Test func paragraphsAndContinuationLines() throws {
        let paragraphs = try parse("""
            Package: hello
            Depends: libc6 (>= 2.34),
             libgcc-s1
            Description: a greeting
             It prints
             .
             hello.

            package: second
            Version:1.0


            Package: third
            """)
        #expect(paragraphs.count == 3)
        let hello = paragraphs[0]
        #expect(hello.line == 1)
        #expect(hello.names == ["Package", "Depends", "Description"])
        #expect(hello["Package"] == "hello")
        #expect(hello["depends"] == "libc6 (>= 2.34),\nlibgcc-s1")
        #expect(hello["DESCRIPTION"] == "a greeting\nIt prints\n.\nhello.")
        #expect(hello.field("Depends")?.isMultiline == true)
        #expect(hello.field("Depends")?.line == 2)
        #expect(hello["Missing"] == nil)
        #expect(paragraphs[1].line == 9)
        #expect(paragraphs[1]["Package"] == "second")
        #expect(paragraphs[1]["version"] == "1.0")
        #expect(paragraphs[2].line == 13)
        #expect(paragraphs[2]["Package"] == "third")
    }

    @Test func valuesAreRangesIntoTheDocument() throws {
        let text = "Package: zero-copy  \n"
        let p = try #require(try parse(text).first)
        let field = try #require(p.field("package"))
        #expect(Array(text.utf8)[field.valueRange].count == " zero-copy  ".utf8.count)
        #expect(try field.value(in: p) == "zero-copy")
        #expect(field.name(in: p) == "Package")
    }

    @Test func crlfLineEndings() throws {
        let paragraphs = try parse("Package: a\r\nDepends: b,\r\n c\r\n\r\nPackage: d\r\n")
        #expect(paragraphs.count == 2)
        #expect(paragraphs[0]["Package"] == "a")
        #expect(paragraphs[0]["Depends"] == "b,\nc")
        #expect(paragraphs[1]["Package"] == "d")
        #expect(paragraphs[1].line == 5)
    }

    @Test func commentsOnlyInColumnZero() throws {
        let paragraphs = try parse("""
            # a comment before the paragraph
            Package: a
            # a comment between fields
            Depends: b,
            # a comment inside a value
             c
            Description: x
             # not a comment: continuation text
            """)
        #expect(paragraphs.count == 1)
        #expect(paragraphs[0].names == ["Package", "Depends", "Description"])
        #expect(paragraphs[0]["Depends"] == "b,\nc")
        #expect(paragraphs[0]["Description"] == "x\n# not a comment: continuation text")
    }

    @Test func whitespaceOnlyLineSeparatesParagraphs() throws {
        let paragraphs = try parse("Package: a\n \t \nPackage: b\n")
        #expect(paragraphs.map { $0["Package"] } == ["a", "b"])
    }

    @Test func syntaxErrorsNameTheirLine() {
        #expect(throws: ControlFileError.missingColon(line: 2)) { try parse("Package: a\nno colon here\n") }
        #expect(throws: ControlFileError.continuationWithoutField(line: 3)) { try parse("Package: a\n\n continued\n") }
        #expect(throws: ControlFileError.emptyFieldName(line: 1)) { try parse(": value\n") }
        #expect(throws: ControlFileError.invalidFieldName("Bad Name", line: 1)) { try parse("Bad Name: value\n") }
        #expect(throws: ControlFileError.invalidFieldName("-Dash", line: 1)) { try parse("-Dash: value\n") }
        #expect(throws: ControlFileError.duplicateField("package", line: 3)) { try parse("Package: a\nVersion: 1\npackage: b\n") }
    }

    @Test func invalidUTF8IsAnErrorOnAccess() throws {
        var bytes = Array("Package: a\nMaintainer: x".utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array("\n".utf8)
        let p = try #require(try ControlFile.parse(bytes).first)
        #expect(throws: ControlFileError.invalidUTF8(line: 2)) { try p.value("Maintainer") }
        #expect(try p.value("Package") == "a")
        let utf8 = try #require(try parse("Maintainer: Jérôme Müller\n").first)
        #expect(utf8["Maintainer"] == "Jérôme Müller")
    }

    @Test func emptyInputsHaveNoParagraphs() throws {
        #expect(try parse("").isEmpty)
        #expect(try parse("\n\n# only a comment\n \n").isEmpty)
        #expect(try ControlFile.parse(UnsafeRawBufferPointer(start: nil, count: 0)).isEmpty)
    }

    @Test func hugeValue() throws {
        // A 4 MiB single-line value and 100,000 continuation lines.
        let long = String(repeating: "x", count: 4 << 20)
        var text = "Package: big\nLong: \(long)\nMany: first\n"
        for i in 0..<100_000 { text += " line\(i)\n" }
        text += "Last: end\n"
        let p = try #require(try parse(text).first)
        #expect(p["Long"]?.utf8.count == 4 << 20)
        let many = try #require(p.field("Many"))
        let lines = try many.lines(in: p)
        #expect(lines.count == 100_001)
        #expect(lines.last == "line99999")
        #expect(p.field("Last")?.line == 100_004)
    }
}

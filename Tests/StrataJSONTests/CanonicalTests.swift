import Testing
import StrataJSON


@Suite struct CanonicalTests {
    static let sample: JSONValue = .object([
        "packages": .array([
            .object(["name": .string("python3"), "size": .int(1234), "sha256": .string("ab/cd")]),
            .object(["name": .string("git"), "size": .int(0), "optional": .bool(false)]),
        ]),
        "Zeta": .null,
        "empty": .object([:]),
        "none": .array([]),
        "ratio": .double(0.1),
        "neg": .int(-3),
        "text": .string("tab\t\"q\" back\\ nl\n ctl\u{1} é € 😀 \u{7f} /"),
        "é": .bool(true),
        "nested": .object(["b": .array([.array([]), .object([:]), .int(1)]), "a": .object(["x": .int(1)])]),
    ])

    @Test func canonicalLayout() {
        let expected = """
        {
          "Zeta": null,
          "empty": {},
          "neg": -3,
          "nested": {
            "a": {
              "x": 1
            },
            "b": [
              [],
              {},
              1
            ]
          },
          "none": [],
          "packages": [
            {
              "name": "python3",
              "sha256": "ab/cd",
              "size": 1234
            },
            {
              "name": "git",
              "optional": false,
              "size": 0
            }
          ],
          "ratio": 0.1,
          "text": "tab\\t\\"q\\" back\\\\ nl\\n ctl\\u0001 é € 😀 \u{7f} /",
          "é": true
        }

        """
        let got = String(decoding: JSON.canonicalBytes(Self.sample), as: UTF8.self)
        #expect(got == expected)
        #expect(JSON.canonicalBytes(Self.sample) == Array(expected.utf8))
    }

    @Test func compactLayout() {
        let v: JSONValue = .object(["b": .array([.int(1), .object([:]), .array([])]), "a": .string("x/y"), "c": .null])
        #expect(String(decoding: JSON.compactBytes(v), as: UTF8.self) == #"{"a":"x/y","b":[1,{},[]],"c":null}"#)
    }

    @Test func scalarsAtTop() {
        #expect(JSON.canonicalBytes(.null) == Array("null\n".utf8))
        #expect(JSON.canonicalBytes(.int(5)) == Array("5\n".utf8))
        #expect(JSON.canonicalBytes(.string("")) == Array("\"\"\n".utf8))
        #expect(JSON.canonicalBytes(.object([:])) == Array("{}\n".utf8))
        #expect(JSON.canonicalBytes(.array([])) == Array("[]\n".utf8))
        #expect(JSON.compactBytes(.bool(true)) == Array("true".utf8))
    }

    @Test func doublesUseShortestForm() {
        let v: JSONValue = .array([.double(0.1), .double(1e-5), .double(1e16), .double(-0.0), .double(100), .double(.nan)])
        #expect(String(decoding: JSON.compactBytes(v), as: UTF8.self) == "[0.1,1e-05,1e+16,-0.0,100.0,null]")
    }

    @Test func keysSortBytewise() {
        // Code point order, not Swift's String ordering: "Z" < "a" < "é" < "€".
        let v: JSONValue = .object(["€": .int(1), "é": .int(2), "a": .int(3), "Z": .int(4), "aa": .int(5)])
        #expect(String(decoding: JSON.compactBytes(v), as: UTF8.self) == #"{"Z":4,"a":3,"aa":5,"é":2,"€":1}"#)
    }

    @Test func roundTrip() throws {
        let bytes = JSON.canonicalBytes(Self.sample)
        #expect(try JSON.parse(bytes) == Self.sample)
        #expect(try JSON.parseLocated(bytes).value == Self.sample)
        #expect(try JSON.parse(JSON.compactBytes(Self.sample)) == Self.sample)
        // Same value, built in a different order: same bytes.
        let reparsed = try JSON.parse(bytes)
        #expect(JSON.canonicalBytes(reparsed) == bytes)
    }

    @Test func parsedDocumentIsCanonicalized() throws {
        let v = try JSON.parse(#"{"b" : [1,2],"a":{"y":null,"x":"\u00e9\/"}}"#)
        let expected = """
        {
          "a": {
            "x": "é/",
            "y": null
          },
          "b": [
            1,
            2
          ]
        }

        """
        #expect(JSON.canonicalBytes(v) == Array(expected.utf8))
    }
}

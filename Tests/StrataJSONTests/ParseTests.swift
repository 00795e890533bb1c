import Testing
@testable import StrataJSON

/// Swift Testing has its own `SourceLocation`.
typealias SourceLocation = StrataJSON.SourceLocation

/// Both parsers must agree on every input: `parse` is checked against `parseLocated`.
func parseBoth(_ text: String) throws(JSONError) -> JSONValue {
    let fast = try JSON.parse(text)
    let located = try JSON.parseLocated(text)
    #expect(fast == located.value)
    return fast
}

func syntaxError(_ text: String) -> (JSONError?, JSONError?) {
    var fast: JSONError?
    var located: JSONError?
    do { _ = try JSON.parse(text) } catch { fast = error }
    do { _ = try JSON.parseLocated(text) } catch { located = error }
    return (fast, located)
}

@Suite struct ValueTests {
    @Test func everyType() throws {
        let v = try parseBoth(#"{"s":"x","i":42,"n":-7,"z":0,"d":1.5,"e":-2.5e-3,"t":true,"f":false,"nul":null,"a":[1,"two",[],{}],"o":{"k":"v"}}"#)
        #expect(v == .object([
            "s": .string("x"), "i": .int(42), "n": .int(-7), "z": .int(0), "d": .double(1.5),
            "e": .double(-0.0025), "t": .bool(true), "f": .bool(false), "nul": .null,
            "a": .array([.int(1), .string("two"), .array([]), .object([:])]),
            "o": .object(["k": .string("v")]),
        ]))
    }

    @Test func scalarDocuments() throws {
        #expect(try parseBoth("1") == .int(1))
        #expect(try parseBoth(" 0 ") == .int(0))
        #expect(try parseBoth("-12\n") == .int(-12))
        #expect(try parseBoth("2.5") == .double(2.5))
        #expect(try parseBoth(#""s""#) == .string("s"))
        #expect(try parseBoth("null") == .null)
        #expect(try parseBoth("true") == .bool(true))
        #expect(try parseBoth("[]") == .array([]))
        #expect(try parseBoth("{}") == .object([:]))
    }

    @Test func integersAndDoubles() throws {
        #expect(try parseBoth("[9223372036854775807]") == .array([.int(.max)]))
        #expect(try parseBoth("[-9223372036854775808]") == .array([.int(.min)]))
        #expect(try parseBoth("[9223372036854775808]") == .array([.double(9223372036854775808.0)]))
        #expect(try parseBoth("[100000000000000000000000]") == .array([.double(1e23)]))
        #expect(try parseBoth(#"{"a":-100000000000000000000000}"#) == .object(["a": .double(-1e23)]))
        #expect(try parseBoth("[1.0, 1E5, 0.5, -0, -0.0, 1e-7]")
            == .array([.double(1), .double(1e5), .double(0.5), .int(0), .double(-0.0), .double(1e-7)]))
        #expect(try parseBoth("[0, -1, 0, 10]") == .array([.int(0), .int(-1), .int(0), .int(10)]))
    }

    @Test func unicodeAndEscapes() throws {
        let v = try parseBoth(#"["é€😀", "\u00e9\u20AC\ud83d\ude00", "\"\\\/\b\f\n\r\t", "a\u0000b", "\u001f"]"#)
        #expect(v == .array([
            .string("é€😀"), .string("é€😀"), .string("\"\\/\u{8}\u{c}\n\r\t"), .string("a\u{0}b"), .string("\u{1f}"),
        ]))
        #expect(try parseBoth(#"{"ключ":"値"}"#) == .object(["ключ": .string("値")]))
    }

    @Test func accessors() throws {
        let v = try JSON.parse(#"{"s":"x","i":3,"d":0.5,"b":true,"a":[null],"o":{}}"#)
        #expect(v["s"]?.stringValue == "x")
        #expect(v["i"]?.intValue == 3)
        #expect(v["i"]?.doubleValue == 3)
        #expect(v["d"]?.intValue == nil)
        #expect(v["d"]?.doubleValue == 0.5)
        #expect(v["b"]?.boolValue == true)
        #expect(v["a"]?.arrayValue == [.null])
        #expect(v["a"]?.arrayValue?.first?.isNull == true)
        #expect(v["o"]?.objectValue == [:])
        #expect(v["missing"] == nil)
        #expect(v["s"]?.intValue == nil)
        #expect(v.typeName == "object")
        #expect(v["a"]?.typeName == "array")
        #expect(v["s"]?.typeName == "string")
        #expect(v["i"]?.typeName == "number")
        #expect(v["d"]?.typeName == "number")
        #expect(v["b"]?.typeName == "boolean")
        #expect(JSONValue.null.typeName == "null")
    }
}

@Suite struct StrictnessTests {
    /// Each input is refused by both parsers with the same syntax error at LINE:COL.
    @Test(arguments: [
        ("[1,2,]", 1, 6),
        ("{\"a\":1,}", 1, 8),
        ("['a']", 1, 2),
        ("[1]//c", 1, 4),
        ("/* c */ [1]", 1, 1),
        ("[1,\n // c\n 2]", 2, 2),
        ("[NaN]", 1, 2),
        ("[Infinity]", 1, 2),
        ("{\"x\": -Infinity}", 1, 7),
        ("[01]", 1, 2),
        ("[00]", 1, 2),
        ("[-01]", 1, 2),
        ("{\"a\":\n  00}", 2, 3),
        ("[1.]", 1, 2),
        ("[-.5]", 1, 2),
        ("[.5]", 1, 2),
        ("[+1]", 1, 2),
        ("[1] x", 1, 5),
        ("{\"a\":1}\n\n  }", 3, 3),
        ("{\"a\":1}{}", 1, 8),
        ("1 2", 1, 3),
        ("[\"a\tb\"]", 1, 4),
        ("{\"k\":\"line\nbreak\"}", 1, 11),
        ("[\"a\u{1}\"]", 1, 4),
        ("[1]\u{0}", 1, 4),
        ("[TRUE]", 1, 2),
        ("{\"a\" 1}", 1, 6),
        ("[1 2]", 1, 4),
        ("\u{b}[1]", 1, 1),
        ("[\"\\x41\"]", 1, 4),
        ("", 1, 1),
        ("  \n ", 2, 2),
        ("[1,\n  2", 2, 4),
        ("{\"a\":", 1, 6),
        ("-", 1, 1),
    ])
    func refused(input: String, line: Int, column: Int) {
        let (fast, located) = syntaxError(input)
        guard case .syntax(let loc, let reason)? = located else {
            Issue.record("expected a syntax error for \(input.debugDescription), got \(String(describing: located))")
            return
        }
        #expect(loc == SourceLocation(line: line, column: column), "\(input.debugDescription): \(reason)")
        #expect(!reason.isEmpty)
        #expect(fast == located)
    }

    @Test func invalidUTF8IsUnsupported() {
        var bytes = Array(#"["a"#.utf8)
        bytes += [0xFF, 0x22, 0x5D]
        #expect(throws: JSONError.self) { try JSON.parse(bytes) }
        do {
            _ = try JSON.parseLocated(bytes)
            Issue.record("accepted invalid UTF-8")
        } catch {
            guard case .unsupported = error else { Issue.record("got \(error)"); return }
        }
    }

    @Test func keyWithNULIsUnsupported() throws {
        // json-c stores keys as C strings: "a\u0000b" would silently become "a".
        let (fast, located) = syntaxError(#"{"x": {"a\u0000b": 1}}"#)
        #expect(located == .unsupported(SourceLocation(line: 1, column: 8), "object key contains U+0000"))
        #expect(fast == located)
        #expect(try parseBoth(#"{"\\u0000": "\u0000"}"#) == .object(["\\u0000": .string("\u{0}")]))
    }

    @Test func hugeExponentIsUnsupported() {
        let (fast, located) = syntaxError("[1e400]")
        #expect(located == .unsupported(SourceLocation(line: 1, column: 2), "number out of range"))
        #expect(fast == located)
    }

    @Test func tooDeep() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let (fast, located) = syntaxError(deep)
        guard case .syntax? = located else { Issue.record("got \(String(describing: located))"); return }
        #expect(fast == located)
    }

    @Test func errorDescription() {
        let e = JSONError.duplicateKey(JSONPath([.key("env")]), "LANG", SourceLocation(line: 3, column: 5))
        #expect(e.description == "3:5: env: duplicate key \"LANG\"")
        #expect(e.location == SourceLocation(line: 3, column: 5))
    }
}

@Suite struct DuplicateKeyTests {
    @Test func topLevel() {
        let (fast, located) = syntaxError("{\"a\": 1,\n \"b\": 2,\n   \"a\": 3}")
        #expect(located == .duplicateKey(.root, "a", SourceLocation(line: 3, column: 4)))
        #expect(fast == located)
    }

    @Test func nested() {
        let text = """
        {
          "steps": [
            {"run": "x"},
            {"copy": {"from": "a", "to": "b", "from": "c"}}
          ]
        }
        """
        let (fast, located) = syntaxError(text)
        let path = JSONPath([.key("steps"), .index(1), .key("copy")])
        #expect(located == .duplicateKey(path, "from", SourceLocation(line: 4, column: 39)))
        #expect(fast == located)
        #expect(path.description == "steps[1].copy")
    }

    @Test func duplicateContainerValues() {
        let (fast, located) = syntaxError(#"{"a":{"x":[1]},"a":[]}"#)
        #expect(located == .duplicateKey(.root, "a", SourceLocation(line: 1, column: 16)))
        #expect(fast == located)
    }

    @Test func sameKeyInDifferentObjectsIsFine() throws {
        let v = try parseBoth(#"[{"a":1},{"a":2}]"#)
        #expect(v == .array([.object(["a": .int(1)]), .object(["a": .int(2)])]))
    }

    @Test func keysWithColonsAndCommas() throws {
        let v = try parseBoth(#"{"a:b":1,"a,b":2,"[":{":":","}}"#)
        #expect(v == .object(["a:b": .int(1), "a,b": .int(2), "[": .object([":": .string(",")])]))
        let (fast, located) = syntaxError(#"{"a:b":1,"a:b":2}"#)
        #expect(located == .duplicateKey(.root, "a:b", SourceLocation(line: 1, column: 10)))
        #expect(fast == located)
    }
}

@Suite struct LocationTests {
    @Test func nestedValues() throws {
        let text = """
        {
          "from": {"debian": {"suite": "bookworm"}},
          "steps": [
            {"run": "make"},
            {
              "copy": {
                "from": "./files",
                "to":   "/opt/tools"
              }
            }
          ],
          "n": [1, -2,
                3.5]
        }
        """
        let doc = try JSON.parseLocated(text)
        func loc(_ path: JSONPath) -> SourceLocation? { doc.locations[path] }
        #expect(loc(.root) == SourceLocation(line: 1, column: 1))
        #expect(loc(JSONPath([.key("from")])) == SourceLocation(line: 2, column: 11))
        #expect(loc(JSONPath([.key("from"), .key("debian"), .key("suite")])) == SourceLocation(line: 2, column: 32))
        #expect(loc(JSONPath([.key("steps")])) == SourceLocation(line: 3, column: 12))
        #expect(loc(JSONPath([.key("steps"), .index(0)])) == SourceLocation(line: 4, column: 5))
        #expect(loc(JSONPath([.key("steps"), .index(0), .key("run")])) == SourceLocation(line: 4, column: 13))
        #expect(loc(JSONPath([.key("steps"), .index(1)])) == SourceLocation(line: 5, column: 5))
        #expect(loc(JSONPath([.key("steps"), .index(1), .key("copy")])) == SourceLocation(line: 6, column: 15))
        let to = JSONPath([.key("steps"), .index(1), .key("copy"), .key("to")])
        #expect(to.description == "steps[1].copy.to")
        #expect(loc(to) == SourceLocation(line: 8, column: 17))
        #expect(loc(JSONPath([.key("n"), .index(1)])) == SourceLocation(line: 12, column: 12))
        #expect(loc(JSONPath([.key("n"), .index(2)])) == SourceLocation(line: 13, column: 9))
        // Every value has a location: 1 root + from, debian, suite + steps, 2 items, run, copy, from, to + n, 3 items.
        #expect(doc.locations.count == 15)
        #expect(doc.location(of: JSONPath([.key("steps"), .index(1), .key("copy"), .key("missing")]))
            == SourceLocation(line: 6, column: 15))
        #expect(doc.value == (try JSON.parse(text)))
    }

    @Test func scalarsAndStringsWithStructuralBytes() throws {
        let text = "  [\"a,[b\" , \"{c:\",\n\t{\"k,\": [ 7 ]} ]"
        let doc = try JSON.parseLocated(text)
        #expect(doc.locations[.root] == SourceLocation(line: 1, column: 3))
        #expect(doc.locations[JSONPath([.index(0)])] == SourceLocation(line: 1, column: 4))
        #expect(doc.locations[JSONPath([.index(1)])] == SourceLocation(line: 1, column: 13))
        #expect(doc.locations[JSONPath([.index(2)])] == SourceLocation(line: 2, column: 2))
        #expect(doc.locations[JSONPath([.index(2), .key("k,")])] == SourceLocation(line: 2, column: 9))
        #expect(doc.locations[JSONPath([.index(2), .key("k,"), .index(0)])] == SourceLocation(line: 2, column: 11))
        #expect(doc.locations.count == 6)
    }

    @Test func columnsCountBytes() throws {
        let doc = try JSON.parseLocated(#"{"é": "ü", "x": 1}"#)
        // "é" and "ü" are two bytes each.
        #expect(doc.locations[JSONPath([.key("é")])] == SourceLocation(line: 1, column: 8))
        #expect(doc.locations[JSONPath([.key("x")])] == SourceLocation(line: 1, column: 19))
    }
}

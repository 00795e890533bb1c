import CJSON
import Glibc

/// Parses a whole document while recording where every value starts. Bytes go
/// to json-c in small chunks cut so that each value's first byte is fed on its
/// own: when json-c's stack grows on that byte a value began there, and its
/// path is read from json-c's stack. This is also the moment a duplicate key
/// is visible (json-c itself would silently keep the last one).
struct LocatedParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let tokenizer: Tokenizer
    private var lines: LineCounter
    private var locations: [JSONPath: SourceLocation] = [:]
    /// For object members: where the member's key starts.
    private var keyLocations: [JSONPath: SourceLocation] = [:]
    /// Numbers converted from their source text (json-c clamps big integers).
    private var numbers: [JSONPath: JSONValue] = [:]
    private var keyStart = 0
    private var rootSeen = false
    private var result: JSONObject?
    private var finished = false

    init(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) {
        guard let tokenizer = Tokenizer() else {
            throw .unsupported(SourceLocation(line: 1, column: 1), "json-c could not allocate a tokenizer")
        }
        self.bytes = bytes
        self.tokenizer = tokenizer
        self.lines = LineCounter(bytes)
    }

    @inline(__always)
    private static func isCut(_ b: UInt8) -> Bool {
        b == 0x5B || b == 0x7B || b == 0x2C || b == 0x3A  // [ { , :
    }

    mutating func run() throws(JSONError) -> LocatedJSON {
        let n = bytes.count
        var i = 0
        var expectLone = true
        while i < n, !finished {
            let b = bytes[i]
            if b < 0x20 {
                try controlByte(at: i)
                i += 1
                continue
            }
            if expectLone {
                if b == 0x20 {
                    var j = i + 1
                    while j < n, bytes[j] == 0x20 { j += 1 }
                    try feed(i, j - i)
                    i = j
                    continue
                }
                if b < 0x80 {
                    try lone(at: i)
                    expectLone = Self.isCut(b)
                    i += 1
                    continue
                }
                expectLone = false
            }
            var j = i
            while j < n {
                let c = bytes[j]
                if c < 0x20 { break }
                j += 1
                if Self.isCut(c) { expectLone = true; break }
            }
            try feed(i, j - i)
            i = j
        }
        try finish()
        let value = try convert(result?.pointer, path: .root)
        return LocatedJSON(value: value, locations: locations)
    }

    // MARK: feeding

    private mutating func feed(_ start: Int, _ count: Int) throws(JSONError) {
        guard let base = bytes.baseAddress else { return }
        let obj = tokenizer.feed(base + start, count: count)
        try check(chunkStart: start, result: obj)
    }

    private mutating func check(chunkStart: Int, result obj: JSONObject?) throws(JSONError) {
        let err = tokenizer.error
        if err == json_tokener_continue { return }
        let at = chunkStart + tokenizer.parseEnd
        if err == json_tokener_success {
            result = obj
            finished = true
            try Self.checkTrailing(bytes, from: at, lines: &lines)
            return
        }
        let loc = lines.location(of: at)
        if err == json_tokener_error_parse_utf8_string { throw .unsupported(loc, err.reason) }
        throw .syntax(loc, err.reason)
    }

    /// After the document only whitespace may follow.
    static func checkTrailing(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, lines: inout LineCounter) throws(JSONError) {
        var k = start
        while k < bytes.count, isJSONWhitespace(bytes[k]) { k += 1 }
        if k < bytes.count {
            throw .syntax(lines.location(of: k), json_tokener_error_parse_unexpected.reason)
        }
    }

    private mutating func controlByte(at i: Int) throws(JSONError) {
        if tokenizer.isInString {
            throw .syntax(lines.location(of: i), "unescaped control character in string")
        }
        guard isJSONWhitespace(bytes[i]) else {
            // json-c would take a NUL for the end of input.
            throw .syntax(lines.location(of: i), json_tokener_error_parse_unexpected.reason)
        }
        try feed(i, 1)
    }

    /// Feeds the first non-blank byte after `[ { , :` (or of the document).
    private mutating func lone(at i: Int) throws(JSONError) {
        let level = tokenizer.depth
        let awaitingKey = tokenizer.isAwaitingKey
        if tokenizer.isAwaitingMemberValue {
            try refuseTruncatedKey(level: level, valueStart: i)
        }
        if tokenizer.isAwaitingMemberValue, tokenizer.fieldNameIsDuplicate(at: level) {
            let path = tokenizer.pathOfChild(ofLevel: level)
            throw .duplicateKey(JSONPath(path.components.dropLast()), tokenizer.fieldName(at: level) ?? "",
                                lines.location(of: keyStart))
        }
        try feed(i, 1)
        if finished { return }
        if !rootSeen {
            rootSeen = true
            try valueStarts(at: i, path: .root)
        } else if tokenizer.depth == level + 1 {
            let path = tokenizer.pathOfChild(ofLevel: level)
            if case .key = path.components.last { keyLocations[path] = lines.location(of: keyStart) }
            try valueStarts(at: i, path: path)
        } else if awaitingKey, tokenizer.state == json_tokener_state_object_field {
            keyStart = i
        }
    }

    /// json-c keeps keys as C strings, so `"a\u0000b"` would silently become
    /// `"a"`. Keys whose source spells `\u0000` are decoded again by json-c
    /// as a standalone string to compare lengths.
    private mutating func refuseTruncatedKey(level: Int, valueStart: Int) throws(JSONError) {
        var close = valueStart - 1
        while close > keyStart, bytes[close] != 0x22 { close -= 1 }  // back over blanks and ':'
        guard close > keyStart, let base = bytes.baseAddress else { return }
        let keySource = UnsafeBufferPointer(start: base + keyStart, count: close - keyStart + 1)
        guard JSONParserSupport.containsEscapedNUL(keySource) else { return }
        guard let name = tokenizer.tok.pointee.stack[level].obj_field_name, let decoder = Tokenizer() else { return }
        var text = Array(keySource)
        text.append(0)
        let decoded = text.withUnsafeBufferPointer { decoder.feed($0.baseAddress!, count: $0.count) }
        if Int(json_object_get_string_len(decoded?.pointer)) != strlen(name) {
            throw .unsupported(lines.location(of: keyStart), "object key contains U+0000")
        }
    }

    private mutating func valueStarts(at i: Int, path: JSONPath) throws(JSONError) {
        let loc = lines.location(of: i)
        locations[path] = loc
        let b = bytes[i]
        let isNumberStart = b == 0x2D || (b >= 0x30 && b <= 0x39)
        if b == 0x4E || b == 0x49 {  // N, I: json-c's NaN and Infinity extensions
            throw .syntax(loc, "number expected (NaN and Infinity are not JSON)")
        }
        guard isNumberStart else { return }
        let length = JSONNumber.tokenLength(bytes, from: i)
        let token = UnsafeBufferPointer(rebasing: bytes[i..<(i + length)])
        switch JSONNumber.value(token) {
        case .success(let v): numbers[path] = v
        case .failure(.invalid): throw .syntax(loc, json_tokener_error_parse_number.reason)
        case .failure(.outOfRange): throw .unsupported(loc, "number out of range")
        }
    }

    private mutating func finish() throws(JSONError) {
        if finished { return }
        let end = bytes.count
        // A top-level number (or `null`) ends only at the end of input, which
        // json-c learns from a NUL byte.
        if rootSeen, tokenizer.depth == 0 {
            var nul: UInt8 = 0
            let obj = withUnsafePointer(to: &nul) { tokenizer.feed($0, count: 1) }
            if tokenizer.error == json_tokener_success {
                result = obj
                finished = true
                return
            }
        }
        throw .syntax(lines.location(of: end), json_tokener_error_parse_eof.reason)
    }

    // MARK: conversion

    private func convert(_ o: OpaquePointer?, path: JSONPath) throws(JSONError) -> JSONValue {
        switch json_object_get_type(o) {
        case json_type_null:
            return .null
        case json_type_boolean:
            return .bool(json_object_get_boolean(o) != 0)
        case json_type_int, json_type_double:
            if let v = numbers[path] { return v }
            throw .unsupported(locations[path] ?? SourceLocation(line: 1, column: 1), "number without a recorded position")
        case json_type_string:
            return .string(JSONConvert.string(o))
        case json_type_array:
            let count = json_object_array_length(o)
            var out: [JSONValue] = []
            out.reserveCapacity(count)
            for idx in 0..<count {
                out.append(try convert(json_object_array_get_idx(o, idx), path: path.appending(idx)))
            }
            return .array(out)
        case json_type_object:
            var out: [String: JSONValue] = [:]
            var entry = lh_table_head(json_object_get_object(o))
            while let e = entry {
                let key = String(cString: lh_entry_k(e).assumingMemoryBound(to: CChar.self))
                let child = path.appending(key)
                let value = try convert(OpaquePointer(lh_entry_v(e)), path: child)
                // Swift compares strings by canonical equivalence: two keys
                // that differ only in Unicode normalization are one key here.
                if out.updateValue(value, forKey: key) != nil {
                    throw .duplicateKey(path, key, keyLocations[child] ?? locations[child] ?? SourceLocation(line: 1, column: 1))
                }
                entry = lh_entry_next(e)
            }
            return .object(out)
        default:
            throw .unsupported(locations[path] ?? SourceLocation(line: 1, column: 1), "unknown json-c type")
        }
    }
}

enum JSONConvert {
    @inline(__always)
    static func string(_ o: OpaquePointer?) -> String {
        let len = Int(json_object_get_string_len(o))
        guard len > 0, let p = json_object_get_string(o) else { return "" }
        return p.withMemoryRebound(to: UInt8.self, capacity: len) {
            String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self)
        }
    }
}

enum JSONParserSupport {
    /// Whether the bytes contain the escape `\u0000` (possibly a false hit
    /// such as `\\u0000`; callers only use this to decide to look closer).
    static func containsEscapedNUL(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = buf.baseAddress else { return false }
        var from = 0
        while from < buf.count, let hit = memchr(base + from, 0x5C, buf.count - from) {
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if at + 6 <= buf.count, buf[at + 1] == 0x75,
               buf[at + 2] == 0x30, buf[at + 3] == 0x30, buf[at + 4] == 0x30, buf[at + 5] == 0x30 {
                return true
            }
            from = at + 1
        }
        return false
    }
}

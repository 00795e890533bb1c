import CJSON
import Glibc

/// The lockfile/OCI path: json-c parses large chunks, cut only after each `:`
/// so that duplicate keys can be seen on json-c's stack. Everything this path
/// cannot vouch for cheaply (any error, a duplicate, or a value whose text
/// json-c does not keep) makes it give up, and the caller re-parses with
/// `LocatedParser`, which reports the exact location or accepts the document.
struct FastParser {
    struct GiveUp: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private let tokenizer: Tokenizer

    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let tokenizer = Tokenizer() else { return nil }
        self.bytes = bytes
        self.tokenizer = tokenizer
    }

    func run() throws(GiveUp) -> JSONValue {
        guard let base = bytes.baseAddress else { throw GiveUp() }
        // A key spelling U+0000 would be cut short by json-c: see LocatedParser.
        if JSONParserSupport.containsEscapedNUL(bytes) { throw GiveUp() }
        let n = bytes.count
        var i = 0
        var result: JSONObject?
        var finished = false
        while i < n {
            let end: Int
            if let colon = memchr(base + i, 0x3A, n - i) {
                end = base.distance(to: colon.assumingMemoryBound(to: UInt8.self)) + 1
            } else {
                end = n
            }
            let obj = tokenizer.feed(base + i, count: end - i)
            let err = tokenizer.error
            if err == json_tokener_success {
                result = obj
                finished = true
                i += tokenizer.parseEnd
                break
            }
            guard err == json_tokener_continue else { throw GiveUp() }
            if tokenizer.isAwaitingMemberValue {
                if tokenizer.fieldNameIsDuplicate(at: tokenizer.depth) { throw GiveUp() }
                // json-c accepts `-01`, `00` and `-.5`; a member value's first
                // byte is the first non-blank byte after its `:`.
                var k = end
                while k < n, isJSONWhitespace(bytes[k]) { k += 1 }
                if k < n, bytes[k] == 0x2D || bytes[k] == 0x30 {
                    let length = JSONNumber.tokenLength(bytes, from: k)
                    if JSONNumber.validate(UnsafeBufferPointer(rebasing: bytes[k..<(k + length)])) == nil {
                        throw GiveUp()
                    }
                }
            }
            i = end
        }
        if !finished {
            guard tokenizer.depth == 0 else { throw GiveUp() }
            var nul: UInt8 = 0
            let obj = withUnsafePointer(to: &nul) { tokenizer.feed($0, count: 1) }
            guard tokenizer.error == json_tokener_success else { throw GiveUp() }
            result = obj
            i = n
        }
        while i < n {
            guard isJSONWhitespace(bytes[i]) else { throw GiveUp() }
            i += 1
        }
        return try convert(result?.pointer, isMember: false)
    }

    private func convert(_ o: OpaquePointer?, isMember: Bool) throws(GiveUp) -> JSONValue {
        switch json_object_get_type(o) {
        case json_type_null:
            return .null
        case json_type_boolean:
            return .bool(json_object_get_boolean(o) != 0)
        case json_type_int:
            let v = json_object_get_int64(o)
            // Clamped or beyond Int64: the exact value needs the source text.
            if v == .max || v == .min { throw GiveUp() }
            // `00` and `-01` parse as 0 and -1; members were checked at their `:`.
            if !isMember && v <= 0 { throw GiveUp() }
            return .int(v)
        case json_type_double:
            // json-c keeps a parsed double's source text as its serialization.
            guard let text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) else { throw GiveUp() }
            let len = strlen(text)
            let ok = text.withMemoryRebound(to: UInt8.self, capacity: len) {
                JSONNumber.validate(UnsafeBufferPointer(start: $0, count: len)) != nil
            }
            let d = json_object_get_double(o)
            guard ok, d.isFinite else { throw GiveUp() }
            return .double(d)
        case json_type_string:
            let len = Int(json_object_get_string_len(o))
            guard len > 0, let p = json_object_get_string(o) else { return .string("") }
            return try p.withMemoryRebound(to: UInt8.self, capacity: len) { (u) throws(GiveUp) -> JSONValue in
                let buf = UnsafeBufferPointer(start: u, count: len)
                try Self.refuseControlBytes(buf)
                return .string(String(decoding: buf, as: UTF8.self))
            }
        case json_type_array:
            let count = json_object_array_length(o)
            var out: [JSONValue] = []
            out.reserveCapacity(count)
            for idx in 0..<count {
                out.append(try convert(json_object_array_get_idx(o, idx), isMember: false))
            }
            return .array(out)
        case json_type_object:
            let table = json_object_get_object(o)
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(Int(table?.pointee.count ?? 0))
            var entry = lh_table_head(table)
            while let e = entry {
                let k = lh_entry_k(e).assumingMemoryBound(to: UInt8.self)
                let klen = strlen(UnsafeRawPointer(k).assumingMemoryBound(to: CChar.self))
                let kbuf = UnsafeBufferPointer(start: k, count: klen)
                try Self.refuseControlBytes(kbuf)
                let key = String(decoding: kbuf, as: UTF8.self)
                let value = try convert(OpaquePointer(lh_entry_v(e)), isMember: true)
                if out.updateValue(value, forKey: key) != nil { throw GiveUp() }
                entry = lh_entry_next(e)
            }
            return .object(out)
        default:
            throw GiveUp()
        }
    }

    /// A control byte in a string may have been raw in the source, which
    /// RFC 8259 forbids and json-c accepts; only `LocatedParser` can tell.
    @inline(__always)
    private static func refuseControlBytes(_ buf: UnsafeBufferPointer<UInt8>) throws(GiveUp) {
        for b in buf where b < 0x20 { throw GiveUp() }
    }
}

import CJSON
import Glibc

/// Builds a json-c tree from a `JSONValue` with keys inserted in bytewise
/// (UTF-8, i.e. code point) order and lets json-c serialize it.
enum JSONWriter {
    static func serialize(_ value: JSONValue, flags: Int32) -> [UInt8] {
        let root = JSONObject(owning: build(value))
        var length = 0
        guard let text = json_object_to_json_string_length(root.pointer, flags, &length) else { return [] }
        return text.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Returns a new reference (or `nil` for null) that the caller owns.
    private static func build(_ value: JSONValue) -> OpaquePointer? {
        switch value {
        case .null:
            return nil
        case .bool(let b):
            return json_object_new_boolean(b ? 1 : 0)
        case .int(let i):
            return json_object_new_int64(i)
        case .double(let d):
            // JSON cannot represent NaN or infinities.
            guard d.isFinite else { return nil }
            // Swift's shortest round-trip text is what Python's repr() prints
            // (`0.1`, `1e-05`, `1e+16`, `-0.0`); json-c's default is `%.17g`.
            return json_object_new_double_s(d, d.description)
        case .string(let s):
            var s = s
            return s.withUTF8 { buf in
                buf.withMemoryRebound(to: CChar.self) { chars in
                    guard let base = chars.baseAddress else { return json_object_new_string("") }
                    return json_object_new_string_len(base, Int32(chars.count))
                }
            }
        case .array(let items):
            guard let arr = json_object_new_array_ext(Int32(max(items.count, 1))) else { return nil }
            if items.isEmpty { return printedAs("[]", arr) }
            for item in items { json_object_array_add(arr, build(item)) }
            return arr
        case .object(let members):
            guard let obj = json_object_new_object() else { return nil }
            if members.isEmpty { return printedAs("{}", obj) }
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for key in keys {
                // Keys are unique, so json-c's lookup is skipped (KEY_IS_NEW),
                // except for keys holding U+0000: json-c cuts them there, and
                // two of them could then collide.
                let flags = key.utf8.contains(0) ? 0 : UInt32(JSON_C_OBJECT_ADD_KEY_IS_NEW)
                json_object_object_add_ex(obj, key, build(members[key] ?? .null), flags)
            }
            return obj
        }
    }

    /// json-c's pretty printer writes an empty container as `{\n  }`; the
    /// lockfile format (Python's layout) wants `{}` and `[]`, so empty
    /// containers get json-c's fixed-text serializer.
    private static func printedAs(_ text: StaticString, _ obj: OpaquePointer) -> OpaquePointer {
        // StaticString's storage is NUL-terminated.
        let copy = strdup(UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self))
        json_object_set_serializer(obj, json_object_userdata_to_json_string, copy, json_object_free_userdata)
        return obj
    }
}

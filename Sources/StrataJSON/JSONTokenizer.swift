import CJSON

/// Owns one `json_tokener` configured for strict RFC 8259 input; freed in deinit.
/// Not thread-safe: one parse at a time.
final class Tokenizer {
    /// Deeper documents are refused ("nesting too deep"); manifests, lockfiles
    /// and OCI documents stay far below this.
    static let maxDepth: Int32 = 64

    let tok: UnsafeMutablePointer<json_tokener>

    init?() {
        guard let t = json_tokener_new_ex(Self.maxDepth) else { return nil }
        json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
        tok = t
    }

    deinit { json_tokener_free(tok) }

    /// Feeds `count` bytes. Returns the finished document, owned by the caller
    /// through `JSONObject`, once `error` is `json_tokener_success`.
    func feed(_ p: UnsafePointer<UInt8>, count: Int) -> JSONObject? {
        let chars = UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self)
        let obj = json_tokener_parse_ex(tok, chars, Int32(count))
        if json_tokener_get_error(tok) == json_tokener_success { return JSONObject(owning: obj) }
        return nil
    }

    var error: json_tokener_error { json_tokener_get_error(tok) }
    /// Bytes of the last chunk that json-c consumed (where it stopped on error).
    var parseEnd: Int { json_tokener_get_parse_end(tok) }
    var depth: Int { Int(tok.pointee.depth) }
    var state: json_tokener_state { tok.pointee.stack[depth].state }
    var savedState: json_tokener_state { tok.pointee.stack[depth].saved_state }

    /// Whether the tokenizer is inside a string or key, where a raw control
    /// character is not allowed by RFC 8259 (json-c would keep it).
    var isInString: Bool {
        switch state {
        case json_tokener_state_string, json_tokener_state_object_field,
             json_tokener_state_string_escape, json_tokener_state_escape_unicode,
             json_tokener_state_escape_unicode_need_escape, json_tokener_state_escape_unicode_need_u:
            return true
        default:
            return false
        }
    }

    /// Right after a `:` was consumed: the key is read, its value not yet begun.
    var isAwaitingMemberValue: Bool {
        state == json_tokener_state_eatws && savedState == json_tokener_state_object_value
    }

    /// Right after `{` or `,` inside an object: the next byte starts a key.
    var isAwaitingKey: Bool {
        state == json_tokener_state_eatws
            && (savedState == json_tokener_state_object_field_start
                || savedState == json_tokener_state_object_field_start_after_sep)
    }

    /// The key being read at `level` (valid while its value is being parsed).
    func fieldName(at level: Int) -> String? {
        guard let name = tok.pointee.stack[level].obj_field_name else { return nil }
        return String(cString: name)
    }

    /// Whether the object at `level` already holds the key being read there.
    func fieldNameIsDuplicate(at level: Int) -> Bool {
        let rec = tok.pointee.stack[level]
        guard let name = rec.obj_field_name, let current = rec.current else { return false }
        return json_object_object_get_ex(current, name, nil) != 0
    }

    /// The path of the value being parsed as the child of `level`: built from
    /// the containers on json-c's stack, each contributing the key it is
    /// reading or the index its next element will get.
    func pathOfChild(ofLevel level: Int) -> JSONPath {
        var components: [JSONPathComponent] = []
        components.reserveCapacity(level + 1)
        for i in 0...level {
            let rec = tok.pointee.stack[i]
            guard let current = rec.current else { break }
            if json_object_is_type(current, json_type_array) != 0 {
                components.append(.index(json_object_array_length(current)))
            } else if let name = rec.obj_field_name {
                components.append(.key(String(cString: name)))
            }
        }
        return JSONPath(components)
    }
}

/// Owns one reference to a `json_object` (released in deinit). A `nil`
/// pointer is JSON `null`, as in json-c.
final class JSONObject {
    let pointer: OpaquePointer?
    init(owning pointer: OpaquePointer?) { self.pointer = pointer }
    deinit { json_object_put(pointer) }
}

extension json_tokener_error {
    var reason: String { String(cString: json_tokener_error_desc(self)) }
}

@inline(__always)
func isJSONWhitespace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
}

import StrataJSON

/// What a registry says when it refuses a request: the distribution spec's error body
/// (`{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": …}]}`),
/// or whatever text a proxy or an older registry sends instead.
public struct RegistryErrorBody: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var code: String
        public var message: String
        public init(code: String, message: String) { self.code = code; self.message = message }
    }

    /// The spec's errors, in order; empty when the body is not that document.
    public var errors: [Entry]
    /// The first line of a body that is not the spec's document, cut to 200 characters.
    public var text: String?

    public init(_ body: [UInt8]) {
        errors = []
        text = nil
        if case .object(let document)? = try? JSON.parse(body), case .array(let items)? = document["errors"] {
            for item in items {
                guard case .object(let fields) = item else { continue }
                let code = fields["code"]?.stringValue ?? ""
                let message = fields["message"]?.stringValue ?? ""
                if !code.isEmpty || !message.isEmpty { errors.append(Entry(code: code, message: message)) }
            }
            if !errors.isEmpty { return }
        }
        let line = String(decoding: body.prefix(4096), as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
            .first { !$0.isEmpty }
        if let line, line.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\t" }) {
            text = line.count > 200 ? String(line.prefix(199)) + "…" : line
        }
    }

    /// `MANIFEST_UNKNOWN: manifest unknown; NAME_UNKNOWN: …`, the text, or nil when the body says nothing.
    public var summary: String? {
        if !errors.isEmpty {
            return errors.map { entry in
                entry.code.isEmpty ? entry.message : entry.message.isEmpty ? entry.code : entry.code + ": " + entry.message
            }.joined(separator: "; ")
        }
        return text
    }

    /// The codes the spec defines for "it is not there", which deserve their own sentence.
    public var isUnknown: Bool {
        errors.contains { ["BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_UNKNOWN"].contains($0.code) }
    }
}

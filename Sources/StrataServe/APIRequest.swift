import NIOHTTP1
import StrataJSON

/// One request of the Engine API, read whole (its body too) before it is routed.
struct APIRequest: Sendable {
    var method: HTTPMethod
    /// The path without its version prefix (`/v1.44/containers/json` → `/containers/json`).
    var path: String
    /// The `/vX.Y` the client asked for, if any.
    var version: String?
    var query: [String: [String]]
    var headers: HTTPHeaders
    var body: [UInt8]

    /// The API versions a path may name: 1.24 (Docker 1.12) up to 1.50 (Docker 28.3).
    static let versions = (24...50).map { "1.\($0)" }

    /// Splits `uri` into path, version and query. nil when the path names a version
    /// this server does not speak (Docker: 400 "client version X is too old/new").
    init?(head: HTTPRequestHead, body: [UInt8]) {
        method = head.method
        headers = head.headers
        self.body = body
        let uri = head.uri
        let pathPart = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        var path = Self.percentDecoded(pathPart)
        version = nil
        if path.hasPrefix("/v"), let slash = path.dropFirst(2).firstIndex(of: "/") {
            let number = String(path[path.index(path.startIndex, offsetBy: 2)..<slash])
            if number.first?.isNumber == true, number.contains(".") {
                guard Self.versions.contains(number) else { return nil }
                version = number
                path = String(path[slash...])
            }
        }
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        query = [:]
        if let start = uri.firstIndex(of: "?") {
            for pair in uri[uri.index(after: start)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.percentDecoded(String(parts[0]), plusIsSpace: true)
                let value = parts.count > 1 ? Self.percentDecoded(String(parts[1]), plusIsSpace: true) : ""
                query[key, default: []].append(value)
            }
        }
    }

    /// The last value of a query parameter.
    func parameter(_ name: String) -> String? { query[name]?.last }

    /// A query flag as Docker reads one (`1`, `true`, `True`; absent or `0`/`false` is false).
    func flag(_ name: String, default value: Bool = false) -> Bool {
        guard let text = parameter(name) else { return value }
        switch text.lowercased() {
        case "", "0", "false", "no": return false
        default: return true
        }
    }

    /// The body as a JSON object; an empty body is an empty object (clients send none for
    /// `POST …/start`). A body that is not an object is Docker's 400.
    func jsonObject() throws(APIError) -> [String: JSONValue] {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return [:] }
        let value: JSONValue
        do { value = try JSON.parse(body) } catch {
            throw APIError(.badRequest, "invalid JSON in the request body: \(error)")
        }
        guard case .object(let fields) = value else {
            throw APIError(.badRequest, "the request body is \(value.typeName), not a JSON object")
        }
        return fields
    }

    /// The value of a JSON query parameter (`filters`), parsed.
    func jsonParameter(_ name: String) throws(APIError) -> JSONValue? {
        guard let text = parameter(name), !text.isEmpty else { return nil }
        do { return try JSON.parse(Array(text.utf8)) } catch {
            throw APIError(.badRequest, "invalid filter '\(text)': \(error)")
        }
    }

    static func percentDecoded(_ text: String, plusIsSpace: Bool = false) -> String {
        guard text.contains("%") || (plusIsSpace && text.contains("+")) else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == 0x25, iterator.count >= 2, let high = Self.hexValue(iterator[iterator.startIndex]),
               let low = Self.hexValue(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else if byte == 0x2b, plusIsSpace {
                bytes.append(0x20)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}

/// A failed request as Docker reports one: a status and `{"message": …}`.
struct APIError: Error, Sendable {
    var status: HTTPResponseStatus
    var message: String

    init(_ status: HTTPResponseStatus, _ message: String) { self.status = status; self.message = message }

    static func noSuchContainer(_ id: String) -> APIError { APIError(.notFound, "No such container: \(id)") }
    static func noSuchImage(_ name: String) -> APIError { APIError(.notFound, "No such image: \(name)") }
    static func noSuchExec(_ id: String) -> APIError { APIError(.notFound, "No such exec instance: \(id)") }
    static func noSuchVolume(_ name: String) -> APIError { APIError(.notFound, "get \(name): no such volume") }
}

import NIOCore
import NIOHTTP1
import NIOPosix
import StrataEnvironment
import StrataStore

/// The Engine API version this server speaks, and the oldest one it still accepts.
enum EngineAPI {
    static let version = "1.44"
    static let minimumVersion = "1.24"
    static let strataVersion = "0.16.0"
}

/// Path patterns to routes. A route runs on the daemon's thread pool, where it may block
/// (the engine's calls do); what waits for long (a container's exit, its output) waits
/// on callbacks, not on a thread.
final class Router: Sendable {
    typealias Action = @Sendable (APIRequest, [String: String], Responder) throws(APIError) -> Void

    struct Route: Sendable {
        var method: HTTPMethod
        var pattern: [String]
        var action: Action
    }

    private let routes: [Route]
    private let pool: NIOThreadPool
    private let log: @Sendable (String) -> Void

    init(routes: [Route], pool: NIOThreadPool, log: @escaping @Sendable (String) -> Void) {
        self.routes = routes; self.pool = pool; self.log = log
    }

    /// The parameters of `parts` when they match `pattern`: `{name}` is one component,
    /// `{name*}` one or more (image names have slashes: `localhost:5000/team/app`).
    static func match(_ pattern: [String], _ parts: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        if let greedy = pattern.firstIndex(where: { $0.hasSuffix("*}") }) {
            let before = pattern[..<greedy], after = pattern[(greedy + 1)...]
            guard parts.count > before.count + after.count else { return nil }
            guard let head = match(Array(before), Array(parts.prefix(before.count))),
                  let tail = match(Array(after), Array(parts.suffix(after.count))) else { return nil }
            parameters.merge(head) { $1 }
            parameters.merge(tail) { $1 }
            let name = String(pattern[greedy].dropFirst().dropLast(2))
            parameters[name] = parts[before.count..<(parts.count - after.count)].joined(separator: "/")
            return parameters
        }
        guard pattern.count == parts.count else { return nil }
        for (component, part) in zip(pattern, parts) {
            if component.hasPrefix("{") {
                parameters[String(component.dropFirst().dropLast())] = part
            } else if component != part {
                return nil
            }
        }
        return parameters
    }

    func dispatch(_ request: APIRequest, _ responder: Responder) {
        let parts = request.path.split(separator: "/").map(String.init)
        var methodMismatch = false
        for route in routes {
            guard let parameters = Self.match(route.pattern, parts) else { continue }
            // HEAD is GET without the body (`/_ping`).
            guard route.method == request.method || (request.method == .HEAD && route.method == .GET) else {
                methodMismatch = true
                continue
            }
            let action = route.action
            let log = self.log
            let matchedParameters = parameters
            pool.submit { state in
                guard case .active = state else {
                    responder.fail(APIError(.serviceUnavailable, "the daemon is shutting down"))
                    return
                }
                do throws(APIError) { try action(request, matchedParameters, responder) } catch {
                    if error.status.code >= 500 { log("\(request.method) \(request.path): \(error.message)") }
                    responder.fail(error)
                }
            }
            return
        }
        if methodMismatch {
            responder.fail(APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path)"))
        } else {
            responder.fail(APIError(.notFound, "page not found"))
        }
    }
}

extension APIError {
    /// The engine's error as Docker would report it: the status its kind has, the sentence as the message.
    init(_ error: StrataError) {
        switch error {
        case .imageNotFound(let name): self = .noSuchImage(name)
        case .store(.noSuchSession(let name)): self = .noSuchContainer(name)
        case .store(.sessionExists(let name)):
            self.init(.conflict, "Conflict. The container name \"/\(name)\" is already in use. You have to remove (or rename) that container to be able to reuse that name.")
        case .store(.sessionInUse(let name)):
            self.init(.conflict, "container \(name) is running: stop the container before removing it or force remove")
        case .sessionNotRunning(let name): self.init(.conflict, "container \(name) is not running")
        case .usage, .manifest: self.init(.badRequest, error.description)
        default: self.init(.internalServerError, error.description)
        }
    }
}

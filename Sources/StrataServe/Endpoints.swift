import Glibc
import NIOHTTP1
import StrataJSON

/// The Engine API's paths, each to the daemon's part that answers it.
extension Daemon {
    func routes() -> [Router.Route] {
        typealias Route = Router.Route
        func route(_ method: HTTPMethod, _ path: String, _ action: @escaping Router.Action) -> Route {
            Route(method: method, pattern: path.split(separator: "/").map(String.init), action: action)
        }
        return [
            route(.GET, "/_ping") { (_, _, responder) throws(APIError) in
                responder.send(.ok, contentType: "text/plain; charset=utf-8", body: Array("OK".utf8),
                               extraHeaders: [("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")])
            },
            route(.GET, "/version") { [self] (_, _, responder) throws(APIError) in responder.send(.ok, json: version()) },
            route(.GET, "/info") { [self] (_, _, responder) throws(APIError) in responder.send(.ok, json: try info()) },
            route(.GET, "/events") { [self] (_, _, responder) throws(APIError) in streamEvents(responder) },

            route(.GET, "/images/json") { [self] (_, _, responder) throws(APIError) in responder.send(.ok, json: try images()) },
            route(.GET, "/images/{name*}/json") { [self] (_, parameters, responder) throws(APIError) in
                responder.send(.ok, json: try inspectImage(parameters["name"] ?? ""))
            },

            route(.POST, "/images/create") { [self] (request, _, responder) throws(APIError) in try pull(request, responder) },
            route(.POST, "/images/{name*}/push") { [self] (request, parameters, responder) throws(APIError) in
                try push(parameters["name"] ?? "", request, responder)
            },
            route(.POST, "/images/{name*}/tag") { [self] (request, parameters, responder) throws(APIError) in
                try tag(parameters["name"] ?? "", request)
                responder.send(.created)
            },
            route(.DELETE, "/images/{name*}") { [self] (_, parameters, responder) throws(APIError) in
                responder.send(.ok, json: try removeImage(parameters["name"] ?? ""))
            },
            route(.POST, "/commit") { [self] (request, _, responder) throws(APIError) in
                responder.send(.created, json: try commit(request))
            },

            route(.GET, "/volumes") { [self] (_, _, responder) throws(APIError) in responder.send(.ok, json: try volumes()) },
            route(.POST, "/volumes/create") { [self] (request, _, responder) throws(APIError) in
                responder.send(.created, json: try createVolume(try request.jsonObject()))
            },
            route(.GET, "/volumes/{name}") { [self] (_, parameters, responder) throws(APIError) in
                responder.send(.ok, json: try volume(parameters["name"] ?? ""))
            },
            route(.DELETE, "/volumes/{name}") { [self] (request, parameters, responder) throws(APIError) in
                try removeVolume(parameters["name"] ?? "", force: request.flag("force"))
                responder.send(.noContent)
            },

            route(.POST, "/containers/create") { [self] (request, _, responder) throws(APIError) in
                let body = try request.jsonObject()
                let (id, warnings) = try create(body: body, name: request.parameter("name").flatMap { $0.isEmpty ? nil : $0 })
                responder.send(.created, json: .object(["Id": .string(id), "Warnings": .array(warnings.map(JSONValue.string))]))
            },
            route(.GET, "/containers/json") { [self] (request, _, responder) throws(APIError) in
                responder.send(.ok, json: try list(all: request.flag("all"), filters: try Self.filters(request)))
            },
            route(.GET, "/containers/{id}/json") { [self] (_, parameters, responder) throws(APIError) in
                responder.send(.ok, json: try inspect(try session(parameters["id"] ?? "")))
            },
            route(.POST, "/containers/{id}/start") { [self] (_, parameters, responder) throws(APIError) in
                responder.send(try start(try session(parameters["id"] ?? "")) ? .noContent : .notModified)
            },
            route(.POST, "/containers/{id}/stop") { [self] (request, parameters, responder) throws(APIError) in
                let seconds = request.parameter("t").flatMap(Double.init) ?? 10
                responder.send(try stop(try session(parameters["id"] ?? ""), seconds: seconds) ? .noContent : .notModified)
            },
            route(.POST, "/containers/{id}/restart") { [self] (request, parameters, responder) throws(APIError) in
                let found = try session(parameters["id"] ?? "")
                _ = try stop(found, seconds: request.parameter("t").flatMap(Double.init) ?? 10)
                _ = try start(found)
                responder.send(.noContent)
            },
            route(.POST, "/containers/{id}/kill") { [self] (request, parameters, responder) throws(APIError) in
                let found = try session(parameters["id"] ?? "")
                let text = request.parameter("signal") ?? "SIGKILL"
                guard let number = Self.signalNumber(text.isEmpty ? "SIGKILL" : text) else {
                    throw APIError(.badRequest, "Invalid signal: \(text)")
                }
                guard try signal(found, number) else {
                    throw APIError(.conflict, "Cannot kill container: \(parameters["id"] ?? ""): container \(found.id) is not running")
                }
                responder.send(.noContent)
            },
            route(.POST, "/containers/{id}/wait") { [self] (request, parameters, responder) throws(APIError) in
                try wait(try session(parameters["id"] ?? ""), request, responder)
            },
            route(.POST, "/containers/{id}/attach") { [self] (request, parameters, responder) throws(APIError) in
                try attach(try session(parameters["id"] ?? ""), request, responder)
            },
            route(.GET, "/containers/{id}/logs") { [self] (request, parameters, responder) throws(APIError) in
                try logs(try session(parameters["id"] ?? ""), request, responder)
            },
            route(.POST, "/containers/{id}/resize") { [self] (request, parameters, responder) throws(APIError) in
                let (rows, columns) = try Self.size(request)
                resize(container(try session(parameters["id"] ?? "")), rows: rows, columns: columns)
                responder.send(.ok, contentType: "text/plain; charset=utf-8")
            },
            route(.POST, "/containers/{id}/exec") { [self] (request, parameters, responder) throws(APIError) in
                let id = try createExec(try session(parameters["id"] ?? ""), body: try request.jsonObject())
                responder.send(.created, json: .object(["Id": .string(id)]))
            },
            route(.POST, "/exec/{id}/start") { [self] (request, parameters, responder) throws(APIError) in
                try startExec(try exec(parameters["id"] ?? ""), request, responder)
            },
            route(.POST, "/exec/{id}/resize") { [self] (request, parameters, responder) throws(APIError) in
                let (rows, columns) = try Self.size(request)
                resize(try exec(parameters["id"] ?? "").live, rows: rows, columns: columns)
                responder.send(.ok, contentType: "text/plain; charset=utf-8")
            },
            route(.GET, "/exec/{id}/json") { [self] (_, parameters, responder) throws(APIError) in
                responder.send(.ok, json: try exec(parameters["id"] ?? "").json)
            },
            route(.GET, "/strata/openapi.json") { (_, _, responder) throws(APIError) in
                responder.send(.ok, contentType: "application/json", body: Array(OpenAPIDocument.json.utf8))
            },
            route(.POST, "/strata/environments/lock") { [self] (request, _, responder) throws(APIError) in
                responder.send(.ok, json: try lockEnvironment(try request.jsonObject()))
            },
            route(.POST, "/strata/environments/build") { [self] (request, _, responder) throws(APIError) in
                responder.send(.ok, json: try buildEnvironment(try request.jsonObject()))
            },
            route(.POST, "/strata/environments/run") { [self] (request, _, responder) throws(APIError) in
                try runEnvironment(try request.jsonObject(), responder)
            },
            route(.POST, "/strata/cli") { [self] (request, _, responder) throws(APIError) in try forwardCLI(request, responder) },
            route(.DELETE, "/containers/{id}") { [self] (request, parameters, responder) throws(APIError) in
                try remove(try session(parameters["id"] ?? ""), force: request.flag("force"))
                responder.send(.noContent)
            },
        ]
    }

    /// A terminal size as `…/resize?h=ROWS&w=COLUMNS` gives it.
    static func size(_ request: APIRequest) throws(APIError) -> (UInt16, UInt16) {
        guard let rows = request.parameter("h").flatMap(UInt16.init), let columns = request.parameter("w").flatMap(UInt16.init) else {
            throw APIError(.badRequest, "resize needs h and w, whole numbers")
        }
        return (rows, columns)
    }
}

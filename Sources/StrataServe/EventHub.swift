import StrataJSON
import Synchronization

/// What `GET /events` streams: each container, image and volume change as Docker words it.
final class EventHub: Sendable {
    private let subscribers = Mutex<(next: Int, all: [Int: @Sendable (JSONValue) -> Void])>((0, [:]))

    func subscribe(_ receive: @escaping @Sendable (JSONValue) -> Void) -> Int {
        subscribers.withLock { state in
            let key = state.next
            state.next += 1
            state.all[key] = receive
            return key
        }
    }

    func unsubscribe(_ key: Int) { _ = subscribers.withLock { $0.all.removeValue(forKey: key) } }

    /// `type` is container, image or volume; `action` Docker's word (create, start, die, destroy, pull, tag…).
    func emit(_ type: String, _ action: String, id: String, attributes: [String: String] = [:]) {
        let now = DockerTime.now()
        var fields: [String: JSONValue] = [
            "Type": .string(type), "Action": .string(action), "scope": .string("local"),
            "Actor": .object(["ID": .string(id), "Attributes": .object(attributes.mapValues(JSONValue.string))]),
            "time": .int(now / 1_000_000_000), "timeNano": .int(now),
        ]
        // The fields of API versions before 1.22, which clients still read.
        if type == "container" || type == "image" {
            fields["status"] = .string(action)
            fields["id"] = .string(id)
            if let image = attributes["image"] { fields["from"] = .string(image) }
        }
        let event = JSONValue.object(fields)
        for receive in subscribers.withLock({ Array($0.all.values) }) { receive(event) }
    }
}

import Glibc
import StrataImages
import StrataJSON

/// The store's images as Docker lists and inspects them. An image's id is its manifest
/// digest, as strata's is (and Docker's with the containerd store).
extension Daemon {
    /// `GET /images/json`: one entry per image, its tags together.
    func images() throws(APIError) -> JSONValue {
        let summaries: [ImageSummary]
        let engine = try self.engine()
        do { summaries = try engine.images.list() } catch { throw APIError(error) }
        var order: [String] = []
        var byID: [String: (summary: ImageSummary, tags: [String])] = [:]
        for summary in summaries {
            let id = summary.manifest.description
            if byID[id] == nil { order.append(id) }
            byID[id, default: (summary, [])].tags.append(summary.reference)
        }
        return .array(order.compactMap { id in
            guard let (summary, tags) = byID[id] else { return nil }
            return .object([
                "Id": .string(id), "ParentId": .string(""), "RepoTags": .array(tags.map(JSONValue.string)), "RepoDigests": .array([]),
                "Created": .int(summary.created.flatMap(Self.seconds(rfc3339:)) ?? 0), "Size": .int(summary.size),
                "SharedSize": .int(-1), "VirtualSize": .int(summary.size), "Labels": .object([:]), "Containers": .int(-1),
            ])
        })
    }

    /// `GET /images/{name}/json`.
    func inspectImage(_ name: String) throws(APIError) -> JSONValue {
        let inspected: JSONValue
        let engine = try self.engine()
        do { inspected = try engine.images.inspect(Self.storeName(name)) } catch {
            if case .imageNotFound = error { throw .noSuchImage(name) }
            throw APIError(error)
        }
        guard case .object(var fields) = inspected else { return inspected }
        fields["RepoDigests"] = .array([])
        fields["Parent"] = .string("")
        fields["Comment"] = .string("")
        fields["DockerVersion"] = .string("")
        fields["VirtualSize"] = fields["Size"]
        fields["GraphDriver"] = .object(["Name": .string("overlay"), "Data": .object([:])])
        fields["Metadata"] = .object(["LastTagTime": .string(DockerTime.zero)])
        if fields["Created"] == nil { fields["Created"] = .string(DockerTime.zero) }
        return .object(fields)
    }

    /// `2026-12-01T10:00:00Z` (fractions and offsets allowed) as seconds since the epoch.
    static func seconds(rfc3339 text: String) -> Int64? {
        let digits = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int32? {
            guard range.upperBound <= digits.count else { return nil }
            var value: Int32 = 0
            for byte in digits[range] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int64(timegm(&parts))
    }
}

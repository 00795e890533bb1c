import StrataEnvironment
import StrataJSON
import StrataStore

/// Named volumes: the store's, which `strata volume` and `-v NAME:/path` use too.
extension Daemon {
    func volumeJSON(_ volume: VolumeRecord) -> JSONValue {
        .object([
            "Name": .string(volume.name), "Driver": .string("local"), "Mountpoint": .string(volume.dataPath),
            "CreatedAt": .string(DockerTime.format(volume.created * 1_000_000_000)), "Labels": .object([:]),
            "Scope": .string("local"), "Options": .object([:]),
        ])
    }

    /// `GET /volumes`.
    func volumes() throws(APIError) -> JSONValue {
        let engine = try self.engine()
        do { return .object(["Volumes": .array(try engine.sessions.volumes().map(volumeJSON)), "Warnings": .array([])]) } catch {
            throw APIError(error)
        }
    }

    /// `POST /volumes/create`: `{"Name": …}`; without one, 64 hex characters as Docker's.
    func createVolume(_ body: [String: JSONValue]) throws(APIError) -> JSONValue {
        let reader = FieldReader()
        let name = try reader.string(body, "Name").flatMap { $0.isEmpty ? nil : $0 }
        if let driver = try reader.string(body, "Driver"), !driver.isEmpty, driver != "local" {
            throw APIError(.notFound, "error looking up volume plugin \(driver): plugin \"\(driver)\" not found: strata's volumes are local")
        }
        let engine = try self.engine()
        let volume: VolumeRecord
        do { volume = try engine.sessions.createVolume(name) } catch {
            if case .store(.invalidName) = error { throw APIError(.badRequest, error.description) }
            throw APIError(error)
        }
        events.emit("volume", "create", id: volume.name, attributes: ["driver": "local"])
        return volumeJSON(volume)
    }

    func volume(_ name: String) throws(APIError) -> JSONValue {
        let engine = try self.engine()
        do { return volumeJSON(try engine.sessions.volume(name)) } catch {
            if case .store(.noSuchVolume) = error { throw .noSuchVolume(name) }
            throw APIError(error)
        }
    }

    /// `DELETE /volumes/{name}`: refused (409) while a container mounts it, as Docker does.
    func removeVolume(_ name: String, force: Bool) throws(APIError) {
        let engine = try self.engine()
        do { try engine.sessions.removeVolume(name, force: force) } catch {
            switch error {
            case .store(.noSuchVolume): throw .noSuchVolume(name)
            case .store(.volumeInUse(_, let sessions, _)):
                throw APIError(.conflict, "remove \(name): volume is in use - [\(sessions.joined(separator: ", "))]")
            default: throw APIError(error)
            }
        }
        events.emit("volume", "destroy", id: name)
    }
}

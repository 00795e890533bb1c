import StrataEnvironment
import StrataModel
import StrataSandbox
import StrataStore

extension Sessions {
    /// The bind mount of a named volume's data. The directory need not exist yet:
    /// `Store.createSession(…volumes:)` creates it under the lock that `volume rm` takes.
    func volumeMount(name: String, target: String) -> SessionMount {
        .bind(source: store.volumeDataPath(name), target: target, readOnly: false)
    }

    /// The volumes a session of this manifest mounts, for its record.
    static func volumeNames(_ manifest: Manifest) -> [String] {
        manifest.mounts.compactMap { mount in
            if case .volume(let name, _) = mount { return name }
            return nil
        }
    }

    /// Every volume, sorted by name.
    public func volumes() throws(StrataError) -> [VolumeRecord] {
        do { return try store.listVolumes() } catch { throw .store(error) }
    }

    /// Creates the volume unless it exists; returns it either way (as `docker volume create`).
    /// Without a name, the volume gets 64 random hex characters, as Docker names anonymous volumes.
    public func createVolume(_ name: String? = nil) throws(StrataError) -> VolumeRecord {
        var generator = SystemRandomNumberGenerator()
        let chosen = name ?? (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        do { return try store.createVolume(chosen).volume } catch { throw .store(error) }
    }

    /// The sessions that mount the volume `name` (names, or ids of unnamed ones), oldest first.
    public func sessions(usingVolume name: String) throws(StrataError) -> [String] {
        do { return try store.sessions(usingVolume: name).map { $0.name ?? $0.id } } catch { throw .store(error) }
    }

    /// The volume with this name, or `noSuchVolume`.
    public func volume(_ name: String) throws(StrataError) -> VolumeRecord {
        let found: VolumeRecord?
        do { found = try store.volume(named: name) } catch { throw .store(error) }
        guard let found else { throw .store(.noSuchVolume(name)) }
        return found
    }

    /// Removes the volume. A volume any session mounts is refused, with or without
    /// `force` (Docker's `volume rm -f` does not remove a volume in use either);
    /// `force` only makes a missing volume a success.
    public func removeVolume(_ name: String, force: Bool = false) throws(StrataError) {
        do { try store.removeVolume(name) } catch {
            if force, case .noSuchVolume = error { return }
            throw .store(error)
        }
    }
}

import Glibc
import StrataModel
import StrataOS

/// A `run` step's cache path (`"cache": ["/root/.cache/pip"]`): a directory in the store
/// (`run-caches/<sha256 of the path>/data`) mounted at that path in every step, of any
/// environment, that names it, as BuildKit's `--mount=type=cache` with `sharing=locked`.
/// It is never part of a layer or an image, and never part of a step's key.
public final class RunCache {
    /// The path in the session, as the manifest wrote it.
    public let target: String
    /// The directory mounted there.
    public let dataPath: String
    /// Held while the step runs, so two steps never write one cache at once.
    let lock: StoreLock

    init(target: String, dataPath: String, lock: consuming StoreLock) {
        self.target = target; self.dataPath = dataPath; self.lock = lock
    }
}

extension Store {
    /// Where the cache of `target` lives, whether or not it exists.
    public func runCachePath(_ target: String) -> String {
        root + "/run-caches/" + Digest.sha256(of: Array(target.utf8)).hex
    }

    /// Takes the cache of `target` (blocking while another step holds it) and returns it,
    /// made on first use as a directory owned by `uid`:`gid` (the step's user), mode 0755.
    public func takeRunCache(_ target: String, uid: UInt32, gid: UInt32) throws(StoreError) -> RunCache {
        let path = runCachePath(target)
        let name = "run-cache-" + FileSystem.split(path).name
        let held = try lock(name)
        if !FileSystem.exists(path + "/data") {
            try io(try FileSystem.makeDirectory(root + "/run-caches", mode: 0o700))
            let work = temporaryPath("run-cache")
            do throws(StoreError) {
                try io(try FileSystem.makeDirectory(work, mode: 0o700))
                try io(try FileSystem.createFile(work + "/target", contents: Array((target + "\n").utf8), mode: 0o600))
                try io(try FileSystem.makeDirectory(work + "/data", mode: 0o755))
                guard chown(work + "/data", uid, gid) == 0 else { throw StoreError.system(work + "/data", "chown") }
                try io(try FileSystem.rename(work, to: path, durable: true))
            } catch {
                do throws(StoreError) { try io(try FileSystem.removeTree(work)) } catch {}
                throw error
            }
        }
        return RunCache(target: target, dataPath: path + "/data", lock: held)
    }
}

import Glibc
import StrataModel
import StrataOS

extension EnvironmentPaths {
    /// The lockfile on disk; nil when there is none. One that cannot be decoded (a merge
    /// conflict, a hand edit) is `StrataError.unreadableLockfile`, never "no lockfile": re-resolving
    /// in its place would silently move every package to today's versions.
    public func readLockfile() throws(StrataError) -> Lockfile? {
        let bytes: [UInt8]
        do { bytes = try HostFile.read(lockfile) } catch {
            if error.isMissing { return nil }
            throw .input(path: lockfile, reason: "cannot read the lockfile: \(error.reason)")
        }
        do { return try Lockfile.decode(bytes, file: lockfile) } catch { throw .unreadableLockfile(error) }
    }

    /// Writes `lockfile` in canonical form unless the file already holds exactly those
    /// bytes; returns whether it wrote. The write is atomic (a hidden file beside it,
    /// renamed over it): a reader sees the old lockfile or the new one.
    public func writeLockfile(_ value: Lockfile) throws(StrataError) -> Bool {
        let bytes = value.encoded()
        if let existing = try? HostFile.read(lockfile), existing == bytes { return false }
        let directory = FileSystem.parent(of: lockfile)
        if !HostFile.exists(directory) {
            do { try FileSystem.makeDirectories(directory, mode: 0o755) } catch { throw .input(path: directory, reason: error.reason) }
        }
        do { try HostFile.writeAtomically(bytes, to: lockfile) } catch {
            throw .input(path: lockfile, reason: "cannot write the lockfile: \(error.reason)")
        }
        return true
    }
}

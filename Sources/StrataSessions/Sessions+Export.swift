import Glibc
import StrataArchive
import StrataEnvironment
import StrataModel
import StrataOS
import StrataStore

extension Sessions {
    /// Writes the session's whole tree — its snapshot with its changes on top, as the
    /// session sees it — to `output` as a tar (`docker export`): owners, modes, mtimes,
    /// xattrs, hard links and device nodes kept, deleted paths absent. `output` appears
    /// only complete (written beside it, then renamed); a running session can be
    /// exported, and what it writes meanwhile may or may not be in the tar.
    public func export(_ idOrName: String, to output: String) throws(StrataError) {
        let session: SessionRecord
        let layers: [String]
        do {
            session = try existing(idOrName)
            layers = try store.lowerDirs(for: session.snapshot).reversed()
        } catch { throw .store(error) }
        let tree = store.temporaryPath("export-tree")
        // Written beside `output` (whatever file system it is on) and renamed when complete.
        let (directory, name) = FileSystem.split(output)
        let partial = FileSystem.temporaryName(in: directory, for: name)
        defer {
            do { try store.discardTemporary(tree) } catch { context.note("could not remove \(tree): \(error)") }
            unlink(partial)
        }
        do {
            try store.makeTemporaryDirectory(tree)
            try store.flatten(layers + [session.upperPath], into: tree)
        } catch { throw .store(error) }
        try context.cancellation.check()
        do { _ = try TreeArchiver.archive(source: tree, target: "/", to: partial, options: .rootfs) } catch {
            throw .archive(path: session.name ?? session.id, error)
        }
        do { try FileSystem.rename(partial, to: output, durable: true) } catch {
            throw .input(path: output, reason: "cannot write the export: \(error.reason)")
        }
    }
}

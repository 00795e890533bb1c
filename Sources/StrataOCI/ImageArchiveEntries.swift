import Glibc
import StrataArchive
import StrataOS
import StrataModel

/// One regular file of an image archive, copied out to a scratch file and hashed on the way.
struct ArchivedFile {
    /// Where its bytes are now (a numbered file in the scratch directory).
    var scratch: String
    var digest: Digest
    var size: Int64
    /// The first bytes, to tell a compressed layer from a plain tar.
    var head: [UInt8]
}

/// The regular files of an image archive (a tar, plain or compressed), read in one pass.
///
/// Entry names never become file system paths: each file is written to a numbered scratch
/// file, so no name, link or `..` can place bytes outside the scratch directory. Names are
/// cleaned (`./`, `.` and repeated slashes dropped); absolute names, `..` components,
/// devices, FIFOs and sockets are refused; symlinks and hardlinks are never followed,
/// only remembered, so that a document pointing at one is refused (`file(_:referencedBy:)`)
/// while the legacy aliases skopeo and podman add to docker archives are ignored.
struct ImageArchiveEntries {
    static let maxEntries = 1_000_000
    static let maxTotalBytes = Int64(64) << 30
    static let maxNameBytes = 4096

    let archive: String
    private(set) var files: [String: ArchivedFile] = [:]
    private(set) var links: Set<String> = []

    private init(archive: String) { self.archive = archive }

    /// `ARCHIVE:ENTRY`, how errors name something inside the archive.
    func label(_ name: String) -> String { archive + ":" + name }

    func has(_ name: String) -> Bool { files[name] != nil || links.contains(name) }

    /// The file `name`, which the document `referrer` points at.
    func file(_ name: String, referencedBy referrer: String) throws(OCIError) -> ArchivedFile {
        if let file = files[name] { return file }
        if links.contains(name) {
            throw .invalid(path: label(name), problem: "is a link, which strata does not follow; \(referrer) must name a regular file")
        }
        throw .invalid(path: label(referrer), problem: "names \(name), which the archive does not hold; the archive is incomplete")
    }

    /// Reads `archive` and copies its regular files into `scratch` (an empty directory).
    static func read(archive: String, into scratch: String) throws(OCIError) -> ImageArchiveEntries {
        let scratchDirectory: FileDescriptor
        do { scratchDirectory = try FileDescriptor.openDirectory(scratch) } catch {
            throw .invalid(path: scratch, problem: "cannot be opened: \(error.reason)")
        }
        let reader: TarFileReader
        do { reader = try TarFileReader(path: archive, maxNameBytes: maxNameBytes) } catch { throw failure(error, archive: archive) }
        var entries = ImageArchiveEntries(archive: archive)
        var totalBytes: Int64 = 0
        while true {
            let next: TarFileReader.Entry?
            do { next = try reader.next() } catch { throw failure(error, archive: archive) }
            guard let entry = next else { break }
            guard reader.entriesRead <= maxEntries else { throw .invalid(path: archive, problem: "holds more than \(maxEntries) entries; refusing it") }
            guard let rawName = entry.name else {
                throw .invalid(path: archive, problem: "holds an entry whose name is not UTF-8 or longer than \(maxNameBytes) bytes")
            }
            let name = try entries.clean(rawName)
            if entry.isHardlink || entry.type == S_IFLNK {
                guard let name else { continue }
                guard !entries.has(name) else { throw entries.duplicate(name) }
                entries.links.insert(name)
                continue
            }
            if entry.type == S_IFDIR { continue }
            guard entry.type == S_IFREG else {
                throw .invalid(path: entries.label(rawName), problem: "is a device, FIFO or socket; image archives hold only files and directories")
            }
            guard let name else {
                throw .invalid(path: entries.label(rawName), problem: "is a file named like the archive's root directory")
            }
            guard !entries.has(name) else { throw entries.duplicate(name) }
            let scratchName = String(reader.entriesRead)
            let display = scratch + "/" + scratchName
            let out: FileDescriptor
            do {
                out = try scratchDirectory.open(scratchName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: display)
            } catch { throw .invalid(path: display, problem: "cannot be written: \(error.reason)") }
            let copied: (digest: Digest, size: Int64, head: [UInt8])
            do { copied = try reader.copyData(to: out.raw, display: display, limit: maxTotalBytes - totalBytes) } catch {
                if case .corrupt(let reason) = error {
                    throw .invalid(path: archive, problem: "is truncated or corrupt (in \(name)): \(reason)")
                }
                throw failure(error, archive: archive)
            }
            totalBytes += copied.size
            guard fsync(out.raw) == 0 else { throw .invalid(path: display, problem: "cannot be written: \(SystemError.text(errno))") }
            entries.files[name] = ArchivedFile(scratch: display, digest: copied.digest, size: copied.size, head: copied.head)
        }
        return entries
    }

    private static func failure(_ error: TarFileReader.Failure, archive: String) -> OCIError {
        switch error {
        case .unreadable(let reason):
            return reason == "not a regular file"
                ? .invalid(path: archive, problem: "is not a file; give an image archive (a tar)")
                : .unreadable(path: archive, reason: reason)
        case .notATar(let reason): return .invalid(path: archive, problem: "is not an image archive (a tar, plain or compressed): \(reason)")
        case .corrupt(let reason): return .invalid(path: archive, problem: "is truncated or corrupt: \(reason)")
        case .tooLarge: return .invalid(path: archive, problem: "holds more than \(maxTotalBytes >> 30) GiB; refusing it")
        case .cannotWrite(let path, let reason): return .invalid(path: path, problem: "cannot be written: \(reason)")
        }
    }

    /// `raw` without `./`, `.` and empty components; nil for the root itself. Absolute
    /// names and `..` are refused outright rather than cleaned: no tool that writes image
    /// archives produces them, so they are a sign of a hostile archive.
    func clean(_ raw: String, referencedBy referrer: String? = nil) throws(OCIError) -> String? {
        let subject = referrer.map { label($0) } ?? label(raw)
        let what = referrer.map { _ in "names \(raw), which" } ?? "is an entry that"
        guard !raw.hasPrefix("/") else {
            throw .invalid(path: subject, problem: "\(what) has an absolute path; image archives hold only relative names")
        }
        let parts = raw.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !parts.contains("..") else {
            throw .invalid(path: subject, problem: "\(what) climbs with '..'; image archives hold only names below their root")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    func duplicate(_ name: String) -> OCIError {
        .invalid(path: label(name), problem: "appears twice in the archive; refusing to guess which one counts")
    }
}

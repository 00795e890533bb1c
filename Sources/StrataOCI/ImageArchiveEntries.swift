import CArchive
import Glibc
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
        let fd = open(archive, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: archive, reason: errnoText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: archive, reason: errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .invalid(path: archive, problem: "is not a file; give an image archive (a tar)") }
        let scratchFD = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard scratchFD >= 0 else { throw .invalid(path: scratch, problem: "cannot be opened: \(errnoText())") }
        defer { close(scratchFD) }

        guard let handle = archive_read_new() else { throw .unreadable(path: archive, reason: "libarchive is out of memory") }
        defer { archive_read_free(handle) }
        // Tar only (no format guessing). The compressions are the library-backed ones:
        // `filter_all` would also run external programs (lrzip, lzop, grzip) on a match.
        archive_read_support_format_tar(handle)
        archive_read_support_filter_gzip(handle)
        archive_read_support_filter_bzip2(handle)
        archive_read_support_filter_xz(handle)
        archive_read_support_filter_lzma(handle)
        archive_read_support_filter_zstd(handle)
        archive_read_support_filter_lz4(handle)
        guard archive_read_open_fd(handle, fd, 1 << 16) == ARCHIVE_OK else {
            throw .invalid(path: archive, problem: "is not an image archive (a tar, plain or compressed): \(libarchiveText(handle))")
        }
        var entries = ImageArchiveEntries(archive: archive)
        var totalBytes: Int64 = 0
        var count = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(handle, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw count == 0
                    ? .invalid(path: archive, problem: "is not an image archive (a tar, plain or compressed): \(libarchiveText(handle))")
                    : .invalid(path: archive, problem: "is truncated or corrupt: \(libarchiveText(handle))")
            }
            count += 1
            guard count <= maxEntries else { throw .invalid(path: archive, problem: "holds more than \(maxEntries) entries; refusing it") }
            guard let raw = archive_entry_pathname(entry), strlen(raw) <= maxNameBytes,
                  let rawName = String(validatingCString: raw) else {
                throw .invalid(path: archive, problem: "holds an entry whose name is not UTF-8 or longer than \(maxNameBytes) bytes")
            }
            let name = try entries.clean(rawName)
            let type = archive_entry_filetype(entry) & UInt32(Glibc.S_IFMT)
            if archive_entry_hardlink(entry) != nil || type == UInt32(Glibc.S_IFLNK) {
                guard let name else { continue }
                guard !entries.has(name) else { throw entries.duplicate(name) }
                entries.links.insert(name)
                continue
            }
            if type == UInt32(Glibc.S_IFDIR) { continue }
            guard type == UInt32(Glibc.S_IFREG) else {
                throw .invalid(path: entries.label(rawName), problem: "is a device, FIFO or socket; image archives hold only files and directories")
            }
            guard let name else {
                throw .invalid(path: entries.label(rawName), problem: "is a file named like the archive's root directory")
            }
            guard !entries.has(name) else { throw entries.duplicate(name) }
            let scratchName = String(count)
            let out = openat(scratchFD, scratchName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard out >= 0 else { throw .invalid(path: scratch + "/" + scratchName, problem: "cannot be written: \(errnoText())") }
            defer { close(out) }
            var hasher = SHA256Stream()
            var size: Int64 = 0
            var head: [UInt8] = []
            while true {
                let got = archive_read_data(handle, buffer.baseAddress, buffer.count)
                if got == 0 { break }
                guard got > 0 else {
                    throw .invalid(path: archive, problem: "is truncated or corrupt (in \(name)): \(libarchiveText(handle))")
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<got])
                totalBytes += Int64(got)
                guard totalBytes <= maxTotalBytes else {
                    throw .invalid(path: archive, problem: "holds more than \(maxTotalBytes >> 30) GiB; refusing it")
                }
                if head.count < 8 { head += chunk.prefix(8 - head.count) }
                hasher.update(chunk)
                try writeAll(out, chunk, path: scratch + "/" + scratchName)
                size += Int64(got)
            }
            guard fsync(out) == 0 else { throw .invalid(path: scratch + "/" + scratchName, problem: "cannot be written: \(errnoText())") }
            entries.files[name] = ArchivedFile(scratch: scratch + "/" + scratchName, digest: hasher.finalize(), size: size, head: head)
        }
        return entries
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

    private func duplicate(_ name: String) -> OCIError {
        .invalid(path: label(name), problem: "appears twice in the archive; refusing to guess which one counts")
    }
}

private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(OCIError) {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw .invalid(path: path, problem: "cannot be written: \(errnoText())") }
        done += n
    }
}

func libarchiveText(_ handle: OpaquePointer) -> String {
    if let text = archive_error_string(handle) { return String(cString: text) }
    return "libarchive error \(archive_errno(handle))"
}

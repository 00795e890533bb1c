import CArchive
import Glibc
import StrataOS

/// An `ar` archive (a `.deb`) read member by member with libarchive's `ar` reader only,
/// no decompressor: the caller decides what each member is and how to read it.
///
/// Guarantees: the members account for every byte of the file (libarchive alone ends
/// quietly on a partial header or trailing garbage; this reader does not); a member is
/// read to exactly its recorded size. Owns the file descriptor and one `struct archive *`.
/// Not thread-safe.
public final class ArReader {
    public struct Member: Sendable, Equatable {
        public let name: String
        public let size: Int64
    }

    /// Why reading failed; the caller knows the file and adds it.
    public enum Failure: Error, Equatable, Sendable {
        case unreadable(errno: Int32)
        /// The first header is not an `ar` header (libarchive's reason).
        case notAnArArchive(reason: String)
        /// Damaged or truncated; `member` nil when between members.
        case corrupt(member: String?, reason: String)
        case tooLarge(member: String, limit: Int64)
        case cannotWrite(destination: String, errno: Int32)
    }

    private let file: FileDescriptor
    private let handle: OpaquePointer
    /// Where the members read so far end: the `!<arch>` magic, then a 60-byte header and
    /// the padded bytes of each member.
    private var end: Int64 = 8
    private var endPadded = false
    private var membersRead = 0

    public init(path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(errno: errno) }
        let file = FileDescriptor(owning: fd)
        guard let handle = archive_read_new() else { throw .unreadable(errno: ENOMEM) }
        self.file = file
        self.handle = handle
        archive_read_support_format_ar(handle)
        guard archive_read_open_fd(handle, fd, 64 << 10) == ARCHIVE_OK else {
            throw .notAnArArchive(reason: libarchiveError(handle))
        }
    }

    deinit { archive_read_free(handle) }

    /// The next member's name and size, or nil at the end of the archive. `expected`
    /// describes what belongs here, for the error when something else is found.
    public func next(expected: String) throws(Failure) -> Member? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        let first = membersRead == 0
        if status == ARCHIVE_EOF {
            // dpkg pads odd members with one newline; a missing final pad byte is tolerated.
            let info: stat
            do { info = try file.status(display: "") } catch { throw .unreadable(errno: error.errno) }
            guard Int64(info.st_size) == end || (endPadded && Int64(info.st_size) == end - 1) else {
                let detail = Int64(info.st_size) > end ? "\(Int64(info.st_size) - end) bytes" : "a missing padding byte"
                throw .corrupt(member: nil, reason: "\(detail) after the last member where \(expected) belongs (truncated or trailing garbage)")
            }
            return nil
        }
        guard status == ARCHIVE_OK, let entry else {
            let reason = libarchiveError(handle)
            if first { throw .notAnArArchive(reason: reason) }
            throw .corrupt(member: nil, reason: "before \(expected): \(reason)")
        }
        guard let cName = archive_entry_pathname(entry) else {
            throw .corrupt(member: nil, reason: "a member without a name where \(expected) belongs")
        }
        let name = String(cString: cName)
        guard archive_entry_size_is_set(entry) != 0, archive_entry_size(entry) >= 0 else {
            throw .corrupt(member: name, reason: "no member size")
        }
        let size = archive_entry_size(entry)
        end += 60 + size + size % 2
        endPadded = size % 2 == 1
        membersRead += 1
        return Member(name: name, size: size)
    }

    /// The current member's bytes; more than `limit` is `tooLarge`.
    public func readAll(member: String, limit: Int64) throws(Failure) -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            try stream(member: member, size: nil) { block throws(Failure) in
                guard Int64(bytes.count + block.count) <= limit else { throw .tooLarge(member: member, limit: limit) }
                bytes.append(contentsOf: block)
            }
        }
        return bytes
    }

    /// Reads past the current member, checking that all its `size` bytes are there.
    public func skip(member: String, size: Int64) throws(Failure) {
        try stream(member: member, size: size) { _ throws(Failure) in }
    }

    /// Streams the current member to a new file at `destination` (O_EXCL, mode 0600);
    /// removes it on failure.
    public func copy(member: String, size: Int64, to destination: String) throws(Failure) {
        let out = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard out >= 0 else { throw .cannotWrite(destination: destination, errno: errno) }
        let file = FileDescriptor(owning: out)
        do throws(Failure) {
            try stream(member: member, size: size) { block throws(Failure) in
                do throws(SystemError) { try file.writeAll(block, display: destination) } catch {
                    throw .cannotWrite(destination: destination, errno: error.errno)
                }
            }
        } catch {
            unlink(destination)
            throw error
        }
    }

    /// Hands the member's bytes to `body` block by block; with `size`, they must be exactly that many.
    private func stream(member: String, size: Int64?,
                        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(Failure) {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { block.deallocate() }
        var total: Int64 = 0
        while true {
            let count = archive_read_data(handle, block.baseAddress, block.count)
            if count == 0 { break }
            guard count > 0 else { throw .corrupt(member: member, reason: libarchiveError(handle)) }
            total += Int64(count)
            if let size, total > size { throw .corrupt(member: member, reason: "longer than its size \(size)") }
            try body(UnsafeRawBufferPointer(rebasing: block[..<count]))
        }
        if let size, total != size {
            throw .corrupt(member: member, reason: "truncated: \(total) of \(size) bytes")
        }
    }
}

import CArchive
import Glibc

/// A small tar held in memory (a `.deb`'s control tarball), read entry by entry with
/// libarchive's tar reader and the one decompressor `compression` names.
///
/// Owns a stable copy of the bytes and one `struct archive *`. Not thread-safe.
public final class MemoryTarReader {
    public enum Compression: Sendable { case none, gzip, xz, zstd, bzip2 }

    public struct Entry: Sendable {
        public let name: String
        public let isRegular: Bool
        public let isDirectory: Bool
    }

    /// Why reading failed; the caller knows the archive and adds it.
    public enum Failure: Error, Equatable, Sendable {
        case corrupt(reason: String)
        case unnamedEntry
        case tooLarge(limit: Int64)
    }

    private let buffer: UnsafeMutableRawBufferPointer
    private let handle: OpaquePointer

    public init(bytes: [UInt8], compression: Compression) throws(Failure) {
        guard let handle = archive_read_new() else { throw .corrupt(reason: "libarchive: out of memory") }
        // libarchive reads the buffer while this reader lives: keep our own stable copy.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        self.handle = handle
        archive_read_support_format_tar(handle)
        switch compression {
        case .none: break
        case .gzip: archive_read_support_filter_gzip(handle)
        case .xz: archive_read_support_filter_xz(handle)
        case .zstd: archive_read_support_filter_zstd(handle)
        case .bzip2: archive_read_support_filter_bzip2(handle)
        }
        guard archive_read_open_memory(handle, buffer.baseAddress, bytes.count) == ARCHIVE_OK else {
            throw .corrupt(reason: libarchiveError(handle))
        }
    }

    deinit {
        archive_read_free(handle)
        buffer.deallocate()
    }

    /// Bytes of the decompressed tar stream consumed so far (headers included).
    public var decompressedBytes: Int64 { archive_filter_bytes(handle, 0) }

    public func next() throws(Failure) -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK, let entry else { throw .corrupt(reason: libarchiveError(handle)) }
        guard let cName = archive_entry_pathname(entry) else { throw .unnamedEntry }
        let type = archive_entry_filetype(entry) & UInt32(Glibc.S_IFMT)
        return Entry(name: String(cString: cName), isRegular: type == UInt32(Glibc.S_IFREG), isDirectory: type == UInt32(Glibc.S_IFDIR))
    }

    /// The current entry's bytes; more than `limit` is `tooLarge`.
    public func readData(limit: Int64) throws(Failure) -> [UInt8] {
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = block.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            guard count > 0 else { throw .corrupt(reason: libarchiveError(handle)) }
            guard Int64(bytes.count + count) <= limit else { throw .tooLarge(limit: limit) }
            bytes.append(contentsOf: block[..<count])
        }
    }
}

import Glibc
import StrataOS

/// A container's output as `docker logs` reads it (`strata serve` writes it): each line
/// (or the part of one a write ended with) as a record of its stream and time, in the
/// order written. A file in the session's directory (`container.log`), so that it
/// outlives the daemon and goes with the session, and `strata logs` reads it too.
///
/// A record is 16 bytes, then the bytes: the stream (1 stdout, 2 stderr), three zero
/// bytes, the length (UInt32, big-endian), and the time in nanoseconds since the epoch
/// (UInt64, big-endian). Docker's json-file driver keeps the same facts as JSON lines.
public struct SessionLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Its name in a session's directory.
    public static let file = "container.log"

    public static let headerSize = 16

    public struct Record: Sendable {
        public var stream: UInt8
        public var time: Int64
        public var bytes: [UInt8]
    }

    /// Appends `bytes` of `stream`, a record per line.
    public func append(stream: UInt8, _ bytes: [UInt8], time: Int64) throws(SystemError) {
        var encoded: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0a).map { $0 + 1 } ?? bytes.count
            encoded += Self.header(stream: stream, length: end - start, time: time)
            encoded += bytes[start..<end]
            start = end
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        // One write: a reader never sees half a record unless the disk is full, and then it stops there.
        try FileSystem.writeAll(fd, encoded, display: path)
    }

    static func header(stream: UInt8, length: Int, time: Int64) -> [UInt8] {
        var header: [UInt8] = [stream, 0, 0, 0]
        let size = UInt32(truncatingIfNeeded: length)
        for shift in stride(from: 24, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
        let stamp = UInt64(bitPattern: time)
        for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: stamp >> UInt64(shift))) }
        return header
    }

    /// The whole records from byte `offset` on, and the offset after the last of them.
    public func records(from offset: Int64 = 0) -> (records: [Record], end: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return ([], offset) }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var position = offset
        while true {
            let n = pread(fd, &buffer, buffer.count, off_t(position))
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            data += buffer[0..<n]
            position += Int64(n)
        }
        var records: [Record] = []
        var index = 0
        while data.count - index >= Self.headerSize {
            let length = data[(index + 4)..<(index + 8)].reduce(0) { $0 << 8 | Int($1) }
            guard data.count - index - Self.headerSize >= length else { break }
            let time = data[(index + 8)..<(index + 16)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let start = index + Self.headerSize
            records.append(Record(stream: data[index], time: Int64(bitPattern: time), bytes: Array(data[start..<(start + length)])))
            index = start + length
        }
        return (records, offset + Int64(index))
    }
}

import Glibc
import StrataOS

/// A failed system call on a cgroup file, with its errno; callers turn it into a
/// `SandboxError` naming the step and path.
struct CgroupIOError: Error, Equatable {
    let code: Int32
    /// The errno's text ("Device or resource busy").
    var reason: String { SystemError.text(code) }
}

/// Reads and writes cgroupfs files with plain system calls: the kernel parses each
/// write(2) as one value, so a value must go in a single call.
enum CgroupFile {
    static func read(_ path: String) throws(CgroupIOError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CgroupIOError(code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CgroupIOError(code: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func write(_ path: String, _ value: String) throws(CgroupIOError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw CgroupIOError(code: errno) }
        defer { close(fd) }
        var bytes = Array(value.utf8)
        while true {
            let count = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count == bytes.count { return }
            if count < 0 && errno == EINTR { continue }
            // cgroupfs takes a value whole or not at all; a short write never happens.
            throw CgroupIOError(code: count < 0 ? errno : EIO)
        }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func makeDirectory(_ path: String) throws(CgroupIOError) {
        if mkdir(path, 0o755) != 0 { throw CgroupIOError(code: errno) }
    }

    static func removeDirectory(_ path: String) throws(CgroupIOError) {
        if rmdir(path) != 0 { throw CgroupIOError(code: errno) }
    }

    /// The child cgroups of `path` (empty when it cannot be listed).
    static func subdirectories(_ path: String) -> [String] {
        guard let entries = try? Directory.entries(path) else { return [] }
        return entries.filter(\.isDirectory).map { path + "/" + $0.name }
    }

    /// The numbers listed one per line in a `cgroup.procs` file (empty when unreadable).
    static func pids(_ path: String) -> [pid_t] {
        guard let text = try? read(path) else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// The value of `key` in a flat-keyed file such as `memory.events` ("key value" lines).
    static func keyedValue(_ text: String, key: String) -> Int? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return Int(parts[1]) }
        }
        return nil
    }
}

import Foundation
import Glibc
import StrataSandbox

/// A throwaway session: a busybox rootfs as the bottom layer, empty upper/work/root
/// dirs and an `out` dir bound at `/out` for results, all under one temp dir.
final class SessionFixture {
    static let applets = [
        "sh", "echo", "cat", "env", "pwd", "hostname", "kill", "ls", "sleep", "grep", "true",
        "false", "touch", "rm", "mkdir", "wc", "sed", "ps", "printf", "test", "readlink", "id",
        "mknod", "head", "dd", "stat",
    ]

    let base: String
    var rootfs: String { base + "/rootfs" }
    var upper: String { base + "/upper" }
    var work: String { base + "/work" }
    var root: String { base + "/root" }
    var out: String { base + "/out" }
    /// Extra layers above the rootfs, topmost first.
    var layers: [String] = []

    init() throws {
        var template = Array("/tmp/strata-sandbox-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed: errno \(errno)") }
        base = String(cString: made)
        let fm = FileManager.default
        for dir in [rootfs + "/bin", rootfs + "/etc", rootfs + "/proc", rootfs + "/dev", rootfs + "/sys",
                    rootfs + "/tmp", upper, work, root, out] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        for applet in Self.applets {
            try fm.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try write(rootfs + "/etc/keep", "lower keep\n")
        try write(rootfs + "/etc/deleteme", "lower delete\n")
        try write(rootfs + "/etc/modify", "lower original\n")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: base)
    }

    var lowerDirs: [String] { layers + [rootfs] }

    func spec(_ argv: [String], environment: [String] = ["PATH=/bin"], mounts: [SessionMount] = [],
              workingDirectory: String = "/", hostname: String = "strata", isolateNetwork: Bool = true) -> SessionSpec {
        SessionSpec(lowerDirs: lowerDirs, upperDir: upper, workDir: work, rootDir: root, argv: argv,
                    environment: environment, workingDirectory: workingDirectory, hostname: hostname,
                    isolateNetwork: isolateNetwork,
                    mounts: [.bind(source: out, target: "/out", readOnly: false)] + mounts)
    }

    /// Runs `script` with busybox sh in the session.
    func sh(_ script: String, mounts: [SessionMount] = [], isolateNetwork: Bool = true) throws -> SessionExit {
        try Sandbox.run(spec(["sh", "-c", script], mounts: mounts, isolateNetwork: isolateNetwork))
    }

    func output(_ name: String) -> String {
        (try? String(contentsOfFile: out + "/" + name, encoding: .utf8)) ?? "<missing \(name)>"
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// Whether any mount on the host sits at or under this fixture.
    func hostHasMountsUnderBase() -> Bool {
        let info = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return info.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && (fields[4] == base || fields[4].hasPrefix(base + "/"))
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Captures what the session writes to its inherited stdout. fd 1 is process-wide,
/// so captures take a lock and other output during the window may land here too.
enum StdoutCapture {
    private static let lock = NSLock()

    static func run(_ body: () throws -> SessionExit) throws -> (SessionExit, String) {
        lock.lock()
        defer { lock.unlock() }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw FixtureError("pipe failed: errno \(errno)") }
        fflush(nil)
        let saved = dup(1)
        dup2(fds[1], 1)
        close(fds[1])
        let result: Result<SessionExit, any Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        fflush(nil)
        dup2(saved, 1)
        close(saved)
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        close(fds[0])
        return (try result.get(), String(decoding: data, as: UTF8.self))
    }
}

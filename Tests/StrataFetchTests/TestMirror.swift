import Foundation
import StrataModel

/// scripts/http-server.py serving a fresh temporary directory; stopped and removed on release.
final class TestMirror {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let directory: String
    /// `http://127.0.0.1:PORT` (no trailing slash).
    let url: String
    private let log: String
    private let peakFile: String
    private let process = Process()

    init() throws {
        directory = try TestMirror.temporaryDirectory("mirror")
        log = directory + ".log"
        peakFile = directory + ".peak"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/http-server.py").standardizedFileURL.path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, "--log", log, "--peak", peakFile, directory]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { throw Failure(description: "\(script) exited before printing its port") }
            line.append(more)
        }
        let port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard Int(port) != nil else { throw Failure(description: "\(script) printed \(port), not a port") }
        url = "http://127.0.0.1:" + port
    }

    deinit {
        // SIGKILL: nothing to clean up, and a server that missed SIGTERM would hang the tests.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: log)
        try? FileManager.default.removeItem(atPath: peakFile)
    }

    /// Writes `bytes` at `path` below the served directory and returns their digest.
    @discardableResult
    func put(_ path: String, _ bytes: [UInt8]) throws -> Digest {
        let file = directory + "/" + path
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return Digest.sha256(of: bytes)
    }

    /// Replaces DIR/.faults (see the script's docstring).
    func faults(_ json: String) throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/.faults"))
    }

    /// The requests answered so far, as `METHOD PATH STATUS` lines.
    func requests() -> [String] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// The most requests the mirror was answering at the same time so far (0 before the first).
    func peakConcurrentRequests() -> Int {
        guard let text = try? String(contentsOfFile: peakFile, encoding: .utf8) else { return 0 }
        return Int(text) ?? 0
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("strata-fetch-\(name)-XXXXXX").path
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw Failure(description: "mkdtemp \(template): \(errno)") }
        return String(cString: made)
    }
}

/// A temporary directory for destinations, removed on release.
final class Scratch {
    let directory: String
    init() throws { directory = try TestMirror.temporaryDirectory("dest") }
    deinit { try? FileManager.default.removeItem(atPath: directory) }
    func path(_ name: String) -> String { directory + "/" + name }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
    func read(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: path(name)).map { Array($0) } }
    /// The names in the directory.
    func names() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] }
}

/// Deterministic pseudo-random bytes, different for each seed.
func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

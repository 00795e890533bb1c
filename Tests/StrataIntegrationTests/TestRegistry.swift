import Foundation

/// Debian's `docker-registry` (the CNCF distribution registry) on 127.0.0.1, with a
/// temporary config and storage of its own; stopped by `stop()`.
final class TestRegistry {
    let directory: String
    let port: Int
    private let process: Process

    var host: String { "127.0.0.1:\(port)" }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") }

    /// Starts a registry in `directory` and waits until `/v2/` answers.
    init(in directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        port = TestRegistry.freePort()
        let config = """
        version: 0.1
        log:
          level: error
        storage:
          filesystem:
            rootdirectory: \(directory)/data
        http:
          addr: 127.0.0.1:\(port)
        """
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", directory + "/config.yml"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        for _ in 0..<200 {
            if Harness.exec(["/usr/bin/python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), 0.2)"],
                            cwd: "/", env: [:]).status == 0 { return }
            usleep(50_000)
        }
        stop()
        throw NSError(domain: "TestRegistry", code: 1, userInfo: [NSLocalizedDescriptionKey: "docker-registry did not start on port \(port)"])
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    static func freePort() -> Int {
        let probe = Harness.exec(["/usr/bin/python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"],
                                 cwd: "/", env: [:])
        return Int(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 5000
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

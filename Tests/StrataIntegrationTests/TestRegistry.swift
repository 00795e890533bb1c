import Foundation

/// Debian's `docker-registry` (the CNCF distribution registry) on 127.0.0.1, with a
/// temporary config and storage of its own; stopped by `stop()`.
final class TestRegistry {
    let directory: String
    let port: Int
    private let process: Process

    var host: String { "127.0.0.1:\(port)" }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") }

    /// Starts a registry in `directory` and waits until `/v2/` answers; with `user`, it
    /// takes only that user and password (htpasswd, bcrypt), as a private registry does.
    init(in directory: String, user: (name: String, password: String)? = nil) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        port = TestRegistry.freePort()
        var auth = ""
        if let user {
            let hash = Harness.exec(["/usr/bin/python3", "-W", "ignore", "-c",
                                     "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", user.password],
                                    cwd: "/", env: [:]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try "\(user.name):\(hash)\n".write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            auth = "auth:\n  htpasswd:\n    realm: strata-test\n    path: \(directory)/htpasswd\n"
        }
        let config = """
        version: 0.1
        log:
          level: error
        storage:
          filesystem:
            rootdirectory: \(directory)/data
        http:
          addr: 127.0.0.1:\(port)

        """ + auth
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

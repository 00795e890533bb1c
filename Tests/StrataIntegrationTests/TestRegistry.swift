import Foundation
import Testing

/// Debian's `docker-registry` (the CNCF distribution registry) on 127.0.0.1, with a
/// temporary config and storage of its own; stopped by `stop()`.
final class TestRegistry {
    let directory: String
    let port: Int
    private let process: Process
    /// The token server (scripts/token-server.py) of a registry started with `tokens`.
    private var tokenServer: Process?

    /// How the registry lets clients in.
    enum Access {
        case open
        /// htpasswd: only this user and password, sent as Basic.
        case basic(user: String, password: String)
        /// Bearer tokens from a token server of the test's own, to anyone or only to `user`.
        case tokens(user: (name: String, password: String)?)
        /// Open, over HTTPS only, with a certificate for 127.0.0.1 signed by a throwaway CA
        /// (`ca.crt` in `directory/certs`, a certs.d-style directory).
        case tls
    }

    var host: String { "127.0.0.1:\(port)" }

    /// Whether docker-registry is installed; records a test failure when it is not (CI installs it).
    static func installed() -> Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") else {
            Issue.record("docker-registry is not installed (scripts/setup installs it)")
            return false
        }
        return true
    }

    /// `skopeo copy` of the harness's busybox layout to `REPO:TAG` here, with `credentials` (`USER:PASSWORD`).
    func push(_ harness: Harness, to repositoryAndTag: String, credentials: String? = nil) -> Harness.Result {
        Harness.exec(["/usr/bin/skopeo", "copy", "--dest-tls-verify=false"] + (credentials.map { ["--dest-creds", $0] } ?? [])
                     + ["oci:images/busybox:latest", "docker://\(host)/\(repositoryAndTag)"], cwd: harness.project, env: [:])
    }

    /// Starts a registry in `directory` and waits until `/v2/` answers; with `user`, it
    /// takes only that user and password (htpasswd, bcrypt), as a private registry does.
    init(in directory: String, access: Access = .open) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        port = TestRegistry.freePort()
        var auth = "", tls = ""
        switch access {
        case .open: break
        case .basic(let user, let password):
            let hash = Harness.exec(["/usr/bin/python3", "-W", "ignore", "-c",
                                     "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password],
                                    cwd: "/", env: [:]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try "\(user):\(hash)\n".write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            auth = "auth:\n  htpasswd:\n    realm: strata-test\n    path: \(directory)/htpasswd\n"
        case .tls:
            try FileManager.default.createDirectory(atPath: directory + "/certs", withIntermediateDirectories: true)
            try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
            for argv in [
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "certs/ca.crt", "-days", "1", "-subj", "/CN=strata-test-ca"],
                ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
                ["x509", "-req", "-in", "server.csr", "-CA", "certs/ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
                 "-days", "1", "-extfile", "san.ext"],
            ] {
                let made = Harness.exec(["/usr/bin/openssl"] + argv, cwd: directory, env: [:])
                guard made.status == 0 else { throw TestRegistry.failure("openssl \(argv[0]) failed: \(made.stderr)") }
            }
            auth = ""
            tls = "  tls:\n    certificate: \(directory)/server.crt\n    key: \(directory)/server.key\n"
        case .tokens(let user):
            let made = Harness.exec(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem",
                                     "-out", directory + "/cert.pem", "-days", "1", "-subj", "/CN=strata-test-issuer"], cwd: directory, env: [:])
            guard made.status == 0 else { throw TestRegistry.failure("openssl could not make the token signing key: \(made.stderr)") }
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            server.arguments = [Harness.packageRoot + "/scripts/token-server.py", "--key", directory + "/key.pem", "--cert", directory + "/cert.pem",
                                "--issuer", "strata-test-issuer", "--service", "strata-test", "--port-file", directory + "/token-port"]
                + (user.map { ["--user", "\($0.name):\($0.password)"] } ?? [])
            server.standardInput = FileHandle.nullDevice
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            tokenServer = server
            var tokenPort = ""
            for _ in 0..<200 where tokenPort.isEmpty {
                tokenPort = (try? String(contentsOfFile: directory + "/token-port", encoding: .utf8)) ?? ""
                if tokenPort.isEmpty { usleep(50_000) }
            }
            auth = "auth:\n  token:\n    realm: http://127.0.0.1:\(tokenPort)/token\n    service: strata-test\n"
                + "    issuer: strata-test-issuer\n    rootcertbundle: \(directory)/cert.pem\n"
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

        """ + tls + auth
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
        throw TestRegistry.failure("docker-registry did not start on port \(port)")
    }

    static func failure(_ text: String) -> NSError {
        NSError(domain: "TestRegistry", code: 1, userInfo: [NSLocalizedDescriptionKey: text])
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    static func freePort() -> Int {
        let probe = Harness.exec(["/usr/bin/python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"],
                                 cwd: "/", env: [:])
        return Int(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 5000
    }

    /// SIGKILL, not SIGTERM: children inherit the test process's signal mask, and a python
    /// token server started with SIGTERM blocked would never end.
    func stop() {
        for running in [process, tokenServer].compactMap({ $0 }) where running.isRunning {
            kill(running.processIdentifier, SIGKILL)
            running.waitUntilExit()
        }
    }
}

/// scripts/registry-fault-proxy.py in front of a registry: every request logged, one fault
/// (or none) injected; stopped by `stop()`.
final class FaultProxy {
    let port: Int
    let log: String
    private let process: Process

    var host: String { "127.0.0.1:\(port)" }

    init(in directory: String, upstream: TestRegistry, fault: String? = nil, upstreamAuth: String? = nil, port: Int? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        log = directory + "/requests.log"
        let portFile = directory + "/port"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Harness.packageRoot + "/scripts/registry-fault-proxy.py", "--upstream", upstream.host, "--port-file", portFile,
                             "--log", log] + (fault.map { ["--fault", $0] } ?? []) + (upstreamAuth.map { ["--upstream-auth", $0] } ?? [])
            + (port.map { ["--port", String($0)] } ?? [])
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        for _ in 0..<200 where text.isEmpty {
            text = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { usleep(50_000) }
        }
        guard let port = Int(text) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestRegistry.failure("registry-fault-proxy.py did not start")
        }
        self.port = port
    }

    struct Request: Decodable {
        var listener: String
        var method: String
        var path: String
        var auth: Bool
        var range: String?
        var length: Int?
        var status: Int?
        var fault: String?
    }

    /// Every request so far, in order.
    func requests() -> [Request] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    func clearLog() { try? Data().write(to: URL(fileURLWithPath: log)) }

    private func stopProcess() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func stop() { stopProcess() }
}

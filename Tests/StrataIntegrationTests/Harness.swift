import Foundation
import Glibc
import Testing

/// Runs the real `strata` binary (built beside this test bundle) on scratch
/// projects: every test gets its own project directory and store.
struct Harness {
    /// Where `strata` and the test bundle were built.
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift-testing may run from inside the .xctest bundle directory.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("strata").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("strata").path
    }()

    static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// The busybox rootfs tarball and OCI layout, made once per test process.
    static let fixtures: String = {
        let dir = NSTemporaryDirectory() + "strata-fixtures-\(getpid())"
        let result = Harness.exec(["/usr/bin/python3", packageRoot + "/scripts/busybox-fixture.py", dir], cwd: "/", env: [:])
        precondition(result.status == 0, "busybox-fixture.py failed: \(result.stderr)")
        return dir
    }()

    let project: String
    let store: String

    init() throws {
        let base = NSTemporaryDirectory() + "strata-it-" + UUID().uuidString.prefix(8).lowercased()
        project = base + "/project"
        store = base + "/store"
        try FileManager.default.createDirectory(atPath: project + "/envs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: project + "/images", withIntermediateDirectories: true)
        for item in ["busybox", "busybox-rootfs.tar.gz"] {
            try FileManager.default.copyItem(atPath: Harness.fixtures + "/" + item, toPath: project + "/images/" + item)
        }
    }

    func cleanup() {
        _ = Harness.exec(["/bin/rm", "-rf", URL(fileURLWithPath: project).deletingLastPathComponent().path], cwd: "/", env: [:])
    }

    /// Writes `envs/NAME.json`.
    func manifest(_ name: String, _ text: String) throws {
        try write("envs/\(name).json", text)
    }

    func write(_ relative: String, _ text: String) throws {
        let path = project + "/" + relative
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOfFile: project + "/" + relative, encoding: .utf8)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `strata ARGS` in the project with the test's store; `CI` is unset unless given.
    @discardableResult
    func strata(_ arguments: [String], env: [String: String] = [:], stdin: String? = nil) -> Result {
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "STRATA_ROOT": store]
        environment.merge(env) { $1 }
        return Harness.exec([Harness.binary] + arguments, cwd: project, env: environment, stdin: stdin)
    }

    /// The process for `strata ARGS`, started but not waited for.
    func start(_ arguments: [String], env: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: project)
        var environment = ["PATH": "/usr/bin:/bin", "STRATA_ROOT": store]
        environment.merge(env) { $1 }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Stops `process` (SIGSTOP) as soon as `reached()` holds, runs `whileStopped` (to look at
    /// the state it was stopped in), then kills it with SIGKILL: a crash at a point the test
    /// chose, not at a moment a timer picked. Returns false when the process ended first.
    static func kill(_ process: Process, when reached: () -> Bool, whileStopped: () -> Void = {}) -> Bool {
        while process.isRunning {
            if reached() {
                Glibc.kill(process.processIdentifier, SIGSTOP)
                whileStopped()
                Glibc.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return true
            }
            usleep(500)
        }
        return false
    }

    /// Polls for `path` (a file a session writes when it is ready); false after `seconds`.
    static func waitFor(_ path: String, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(20_000)
        }
        return false
    }

    static func exec(_ argv: [String], cwd: String, env: [String: String], stdin: String? = nil) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.environment = env.isEmpty ? ["PATH": "/usr/bin:/bin"] : env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        do { try process.run() } catch { return Result(status: -1, stdout: "", stderr: "\(error)") }
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so a chatty child cannot deadlock on a full pipe.
        let errData = LockedData()
        let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errData.done { usleep(1000) }
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Result(status: status, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.value, as: UTF8.self))
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var finished = false
    func set(_ value: Data) { lock.lock(); data = value; finished = true; lock.unlock() }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return finished }
    var value: Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// The busybox environment from an OCI layout, as the tests use it.
let busyboxManifest = """
{
  "project": false,
  "from": {"image": "oci:../images/busybox:latest"},
  "shell": ["/bin/sh"]
}
"""

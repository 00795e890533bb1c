import Foundation
import Glibc
import StrataArchive
import StrataEnvironment
import StrataOS
import StrataStore
import Synchronization

/// What a request told its caller: the notes the engine wrote, in order.
public final class Notes: Sendable {
    private let lines = Mutex<[String]>([])
    public init() {}
    public func append(_ line: String) { lines.withLock { $0.append(line) } }
    public var all: [String] { lines.withLock { $0 } }
}

/// A clock the test moves by hand.
public final class ManualClock: Sendable {
    private let seconds = Mutex<Int64>(Int64(time(nil)))
    public init() {}
    public var now: Int64 { seconds.withLock { $0 } }
    public func advance(by delta: Int64) { seconds.withLock { $0 += delta } }
}

/// A scratch project (`envs/`, `lockfiles/`), a store beside it, and a request context
/// whose notes are kept and whose clock the test sets, all under one temporary directory
/// removed when the fixture goes away.
///
/// `busyboxRoot()` makes a small root filesystem (busybox and its applets) as a tarball a
/// manifest's `tar` step can stand on: a runnable environment without any image.
public final class EngineFixture: @unchecked Sendable {
    public static let applets = ["sh", "echo", "cat", "ls", "rm", "mkdir", "touch", "test", "true", "false", "env", "id", "ln", "date", "sleep", "nc", "printf", "pwd", "head", "od", "wc", "cp", "seq"]

    public let base: String
    public let store: Store
    public let notes = Notes()
    /// The context's clock: seconds since the epoch, as the test sets it.
    public let clock = ManualClock()

    public var project: String { base + "/project" }

    public init() throws {
        var template = Array("/tmp/strata-engine-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", path: "/tmp") }
        base = String(cString: made)
        try FileSystem.makeDirectories(base + "/project/envs", mode: 0o755)
        store = try Store(root: base + "/store")
    }

    deinit { try? FileSystem.removeTree(base) }

    /// A request from a caller in the project directory, without a terminal.
    public var context: RequestContext {
        let notes = self.notes
        let clock = self.clock
        return RequestContext(variables: ["PATH": "/usr/bin:/bin"], workingDirectory: project,
                              notes: { notes.append($0) }, now: { clock.now },
                              fetchTool: "/nonexistent/strata-fetch")
    }

    public func write(_ relative: String, _ text: String) throws {
        let path = project + "/" + relative
        try FileSystem.makeDirectories(FileSystem.parent(of: path), mode: 0o755)
        try HostFile.writeAtomically(Array(text.utf8), to: path)
    }

    public func read(_ relative: String) throws -> String {
        String(decoding: try HostFile.read(project + "/" + relative), as: UTF8.self)
    }

    /// `envs/NAME.json`, loaded.
    public func environment(_ name: String, _ manifest: String) throws -> LoadedEnvironment {
        try write("envs/\(name).json", manifest)
        return try LoadedEnvironment(paths: EnvironmentPaths(argument: name, currentDirectory: project))
    }

    /// Writes `images/busybox.tar` (a root filesystem: /bin/busybox, its applets, /etc/passwd
    /// and `extra` files) and returns its path relative to `envs/`.
    @discardableResult
    public func busyboxRoot(extra: [String: String] = [:]) throws -> String {
        let root = base + "/rootfs"
        try FileSystem.removeTree(root)
        try FileSystem.makeDirectories(root + "/bin", mode: 0o755)
        try FileSystem.makeDirectories(root + "/etc", mode: 0o755)
        for directory in ["proc", "dev", "sys", "tmp"] { try FileSystem.makeDirectory(root + "/" + directory, mode: 0o755) }
        let busybox = try HostFile.read("/bin/busybox", limit: 64 << 20)
        try FileSystem.createFile(root + "/bin/busybox", contents: busybox, mode: 0o755)
        for applet in Self.applets { symlink("busybox", root + "/bin/" + applet) }
        try FileSystem.createFile(root + "/etc/passwd", contents: Array("root:x:0:0:root:/root:/bin/sh\n".utf8), mode: 0o644)
        for (path, text) in extra {
            try FileSystem.makeDirectories(FileSystem.parent(of: root + path), mode: 0o755)
            unlink(root + path)
            try FileSystem.createFile(root + path, contents: Array(text.utf8), mode: 0o644)
        }
        try FileSystem.makeDirectories(project + "/images", mode: 0o755)
        _ = try TreeArchiver.archive(source: root, target: "/", to: project + "/images/busybox.tar")
        return "../images/busybox.tar"
    }
}

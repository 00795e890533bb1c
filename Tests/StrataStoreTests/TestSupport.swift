import Foundation
import Glibc
import StrataModel
import StrataOS
@testable import StrataStore

/// A fresh directory under /tmp, removed (with the store's own fd-based
/// removal, which copes with mode-000 dirs) when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/strata-store-test.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp: \(String(cString: strerror(errno)))") }
    let directory = String(cString: made)
    defer { try? FileSystem.removeTree(directory) }
    return try body(directory)
}

/// A new store in a temporary directory.
func withTemporaryStore<T>(_ body: (Store) throws -> T) throws -> T {
    try withTemporaryDirectory { directory in try body(try Store(root: directory + "/store")) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw TestFailure("cannot write \(path)") }
    chmod(path, mode)
}

func readBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

/// Permission bits and type of `path` (not following symlinks); nil if missing.
func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode
}

func permissions(_ path: String) -> mode_t? { fileMode(path).map { $0 & 0o7777 } }

func isDirectory(_ path: String) -> Bool { fileMode(path).map { $0 & S_IFMT == S_IFDIR } ?? false }

func entries(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Runs a program to completion, returning its exit status.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// Runs `body(i)` for i in 0..<count, each on its own thread, all released at once.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let start = DispatchSemaphore(value: 0)
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            start.wait()
            body(index)
            group.leave()
        }
        thread.start()
    }
    for _ in 0..<count { start.signal() }
    group.wait()
}

/// A small uncompressed tar made by /usr/bin/tar from a tree built by `populate`,
/// with its diff id (the sha256 of the tar's bytes).
func makeLayerTar(in directory: String, name: String, populate: (String) throws -> Void) throws -> (path: String, diffID: Digest) {
    let tree = directory + "/" + name + ".tree"
    try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
    try populate(tree)
    let tar = directory + "/" + name + ".tar"
    let status = try run("/usr/bin/tar", ["--format=pax", "--numeric-owner", "-cf", tar, "-C", tree, "."])
    guard status == 0, let bytes = readBytes(tar) else { throw TestFailure("tar failed with status \(status)") }
    return (tar, Digest.sha256(of: bytes))
}

func digest(_ hexCharacter: Character) throws -> Digest {
    try Digest(hex: String(repeating: hexCharacter, count: 64))
}

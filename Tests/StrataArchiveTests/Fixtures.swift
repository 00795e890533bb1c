import Foundation
import Glibc
import StrataModel
@testable import StrataArchive

/// A fresh directory under /tmp, removed when the fixture goes away. Unpacks go into
/// `destination`, which sits alone inside `sandbox` so that escapes show up as siblings.
final class Scratch {
    let base: String
    let sandbox: String
    let destination: String

    init() throws {
        var template = Array("/tmp/strata-archive-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        base = String(cString: made)
        sandbox = base + "/sandbox"
        destination = sandbox + "/dest"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// What is in the sandbox besides the destination: must stay empty.
    func escaped() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: sandbox).filter { $0 != "dest" }
    }

    /// Writes a tar with Python's tarfile. `body` calls
    /// `add(name, type=..., data=b"", mode=, uid=, gid=, mtime=, link=, xattrs={}, major=, minor=)`.
    func tar(_ name: String, _ body: String) throws -> String {
        let path = base + "/" + name
        let script = """
        import io, sys, tarfile
        from tarfile import REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE, BLKTYPE, FIFOTYPE
        t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
        def add(name, type=REGTYPE, data=b"", mode=0o644, uid=0, gid=0, mtime=1000, link="", xattrs=None, major=0, minor=0):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.uid, ti.gid, ti.mtime, ti.linkname = type, mode, uid, gid, mtime, link
            ti.devmajor, ti.devminor = major, minor
            if xattrs:
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
            ti.size = len(data) if type == REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if type == REGTYPE else None)
        \(body)
        t.close()
        """
        try run("/usr/bin/python3", ["-c", script, path])
        return path
    }

    func unpack(_ tar: String, limits: UnpackLimits = .default) throws(ArchiveError) -> UnpackReport {
        try LayerUnpacker(limits: limits).unpack(archiveAt: tar, into: destination)
    }

    /// The error an unpack threw, or nil if it succeeded.
    func unpackError(_ tar: String) -> ArchiveError? {
        do { _ = try unpack(tar); return nil } catch { return error }
    }
}

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

func run(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        throw CommandFailed(description: "\(tool) \(arguments.prefix(1)) exited \(process.terminationStatus): \(text)")
    }
}

func writeFile(_ path: String, _ data: Data) throws {
    guard FileManager.default.createFile(atPath: path, contents: data) else { throw POSIXError(.EIO) }
}

func lstatOf(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

func exists(_ path: String) -> Bool { lstatOf(path) != nil }

func xattrs(_ path: String) -> [String: [UInt8]] {
    var result: [String: [UInt8]] = [:]
    for item in Xattr.list(path: Array(path.utf8CString)) ?? [] { result[item.name] = item.value }
    return result
}

func contents(_ path: String) -> [UInt8] {
    (FileManager.default.contents(atPath: path)).map { Array($0) } ?? []
}

func sha256(ofFile path: String) -> Digest {
    Digest.sha256(of: contents(path))
}

extension ArchiveError {
    /// The entry an `unsafeEntry` or `limitExceeded` error names.
    var entry: String? {
        switch self {
        case .unsafeEntry(let entry, _), .limitExceeded(let entry, _): return entry
        default: return nil
        }
    }

    var isCorrupt: Bool {
        if case .corrupt = self { return true }
        return false
    }
}

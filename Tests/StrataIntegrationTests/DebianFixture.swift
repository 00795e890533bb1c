import Foundation
import StrataModel
import Testing

/// The local Debian archives the Debian integration tests resolve and install from:
/// scripts/debian-test-archive.py `--extras --next`, generated once per test process.
///
/// The directory holds the archive (suite `testing`, codename `strata`; `expired` too; the
/// tampered `InRelease.tampered`; `keyring.gpg`, `other-keyring.gpg`) and, under `next/`,
/// its next state signed by the same key: served, `URL` and `URL/next` are two mirrors.
enum DebianFixture {
    static let archive: String = {
        let dir = NSTemporaryDirectory() + "strata-debian-it-\(getpid())"
        _ = Harness.exec(["/bin/rm", "-rf", dir], cwd: "/", env: [:])
        let result = Harness.exec(["/usr/bin/python3", Harness.packageRoot + "/scripts/debian-test-archive.py",
                                   "--extras", "--next", dir], cwd: "/", env: [:])
        precondition(result.status == 0, "debian-test-archive.py failed: \(result.stderr)")
        atexit { _ = Harness.exec(["/bin/rm", "-rf", DebianFixture.archive], cwd: "/", env: [:]) }
        return dir
    }()

    /// A server over `archive` that no test changes or injects faults into.
    static let shared: ArchiveMirror = {
        let mirror = try! ArchiveMirror(serving: archive)
        atexit {
            kill(DebianFixture.shared.pid, SIGKILL)
            unlink(DebianFixture.shared.log)
        }
        return mirror
    }()

    /// A mirror URL nothing listens on (port 1 on the loopback: connection refused).
    static let deadMirror = "http://127.0.0.1:1"

    /// The `Packages` stanzas of the archive (or of `next`), as name → version → fields.
    static func index(next: Bool = false) throws -> [String: [String: [String: String]]] {
        let text = try String(contentsOfFile: archive + (next ? "/next" : "") + "/dists/testing/main/binary-amd64/Packages",
                              encoding: .utf8)
        var table: [String: [String: [String: String]]] = [:]
        for paragraph in text.components(separatedBy: "\n\n") where !paragraph.isEmpty {
            var fields: [String: String] = [:]
            for line in paragraph.split(separator: "\n") where !line.hasPrefix(" ") {
                if let colon = line.firstIndex(of: ":") {
                    fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            if let name = fields["Package"], let version = fields["Version"] { table[name, default: [:]][version] = fields }
        }
        return table
    }
}

/// scripts/http-server.py serving one directory on 127.0.0.1; killed on release.
final class ArchiveMirror: @unchecked Sendable {
    let directory: String
    /// `http://127.0.0.1:PORT` (no trailing slash).
    let url: String
    let log: String
    private let process = Process()
    private let ownsDirectory: Bool
    var pid: pid_t { process.processIdentifier }

    init(serving directory: String, owned: Bool = false) throws {
        self.directory = directory
        ownsDirectory = owned
        log = directory + ".requests"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Harness.packageRoot + "/scripts/http-server.py", "--log", log, directory]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { break }
            line.append(more)
        }
        let port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        precondition(Int(port) != nil, "http-server.py printed \"\(port)\", not a port")
        url = "http://127.0.0.1:" + port
    }

    /// A server over a fresh copy of the fixture archive, for a test that changes it.
    static func copy() throws -> ArchiveMirror {
        let directory = NSTemporaryDirectory() + "strata-debian-copy-" + UUID().uuidString.prefix(8).lowercased()
        let copied = Harness.exec(["/bin/cp", "-a", DebianFixture.archive, directory], cwd: "/", env: [:])
        precondition(copied.status == 0, "cp: \(copied.stderr)")
        return try ArchiveMirror(serving: directory, owned: true)
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        unlink(log)
        if ownsDirectory { _ = Harness.exec(["/bin/rm", "-rf", directory], cwd: "/", env: [:]) }
    }

    /// Replaces DIR/.faults (see scripts/http-server.py).
    func faults(_ json: String) throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/.faults"))
    }

    /// The requests answered so far, as `METHOD PATH STATUS` lines.
    func requests() -> [String] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }
}

/// One package of a lockfile's Debian base.
struct LockedDeb: Equatable {
    var name: String
    var version: String
    var architecture: String
    var path: String
    var size: Int
    var sha256: String
}

extension Harness {
    /// Writes envs/NAME.json with a Debian base (suite `testing` unless given) whose keyring is
    /// the fixture's, copied to keys/; `mirrors` nil leaves "mirror" out, one is a string, more a
    /// list. `busybox` adds a tar step with busybox on top, to look inside with `sh`.
    func debian(_ name: String, packages: [String], mirrors: [String]? = [DebianFixture.shared.url],
                variant: String = "extract", suite: String = "testing", keyring: String = "keyring.gpg",
                recommends: Bool? = nil, busybox: Bool = false) throws {
        let keys = project + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: keys + "/" + keyring) {
            try FileManager.default.copyItem(atPath: DebianFixture.archive + "/" + keyring, toPath: keys + "/" + keyring)
        }
        func quoted(_ text: String) -> String { "\"" + text + "\"" }
        var source = "\"suite\": \(quoted(suite)), \"variant\": \(quoted(variant)), \"keyring\": \(quoted("../keys/" + keyring))"
        if let mirrors {
            source += ", \"mirror\": " + (mirrors.count == 1 ? quoted(mirrors[0]) : "[" + mirrors.map(quoted).joined(separator: ", ") + "]")
        }
        var text = "{\n  \"from\": {\"debian\": {\(source)}},\n  \"packages\": [\(packages.map(quoted).joined(separator: ", "))]"
        if let recommends { text += ",\n  \"recommends\": \(recommends)" }
        if busybox { text += ",\n  \"steps\": [{\"tar\": \"../images/busybox-rootfs.tar.gz\"}]" }
        try manifest(name, text + "\n}\n")
    }

    func lockfileExists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: project + "/lockfiles/\(name).lock.json")
    }

    /// The Debian packages lockfiles/NAME.lock.json pins, in its (install) order.
    func lockedDebs(_ name: String, file: String? = nil) throws -> [LockedDeb] {
        let text = try read(file ?? "lockfiles/\(name).lock.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let base = try #require(json["base"] as? [String: Any])
        let packages = try #require(base["packages"] as? [[String: Any]])
        return try packages.map {
            LockedDeb(name: try #require($0["name"] as? String), version: try #require($0["version"] as? String),
                      architecture: try #require($0["architecture"] as? String), path: try #require($0["path"] as? String),
                      size: try #require($0["size"] as? Int), sha256: try #require($0["sha256"] as? String))
        }
    }

    /// The Debian base of lockfiles/NAME.lock.json as strata reads it.
    func lockedDebian(_ name: String) throws -> LockedDebian {
        let path = project + "/lockfiles/\(name).lock.json"
        let lockfile = try Lockfile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))), file: path)
        guard case .debian(let debian) = lockfile.base else { throw LockfileNotDebian(path: path) }
        return debian
    }

    struct LockfileNotDebian: Error { var path: String }

    /// The names in a directory of the store (empty when it does not exist).
    func storeEntries(_ relative: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: store + "/" + relative)) ?? [])
    }
}

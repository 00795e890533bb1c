import Foundation
import Glibc
import StrataArchive
import StrataJSON
import StrataModel
import StrataOS
@testable import StrataOCI

/// A fresh directory under /tmp, removed when the fixture goes away.
final class Scratch {
    let base: String

    init() throws {
        var template = Array("/tmp/strata-oci-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        base = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// A new empty directory `name` inside the scratch directory.
    func directory(_ name: String) throws -> String {
        let path = base + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes a tar with Python's tarfile. `body` calls `add(name, type=REGTYPE, data=b"",
    /// link="", major=0, minor=0)` and `add_file(name, path)`; `mode` is tarfile's ("w", "w:gz").
    func tar(_ name: String, mode: String = "w", _ body: String) throws -> String {
        let path = base + "/" + name
        let script = """
        import io, sys, tarfile
        from tarfile import REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE, BLKTYPE, FIFOTYPE
        t = tarfile.open(sys.argv[1], "\(mode)", format=tarfile.PAX_FORMAT)
        def add(name, type=REGTYPE, data=b"", link="", major=0, minor=0):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.devmajor, ti.devminor = type, link, major, minor
            ti.size = len(data) if type == REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if type == REGTYPE else None)
        def add_file(name, path):
            add(name, data=open(path, "rb").read())
        \(body)
        t.close()
        """
        try run("/usr/bin/python3", ["-c", script, path])
        return path
    }
}

/// An OCI image layout written the way the store keeps images: gzip, zstd or plain layer
/// blobs made from small trees, a config with their diff ids, a manifest, and an
/// `index.json` that tags it `tag`.
struct ImageFixture {
    enum LayerKind { case plain, gzip, zstd }

    let layout: String
    let manifest: Digest
    let config: Digest
    let layers: [OCIDescriptor]
    let diffIDs: [Digest]
    /// Every file of every layer, path inside the image → contents.
    let files: [String: String]

    var blobs: Set<Digest> { Set([manifest, config] + layers.map(\.digest)) }

    init(in scratch: Scratch, name: String = "layout", tag: String = "t",
         kinds: [LayerKind] = [.gzip, .zstd, .plain]) throws {
        layout = try scratch.directory(name)
        try FileManager.default.createDirectory(atPath: layout + "/blobs/sha256", withIntermediateDirectories: true)
        var layers: [OCIDescriptor] = []
        var diffIDs: [Digest] = []
        var files: [String: String] = [:]
        for (number, kind) in kinds.enumerated() {
            let tree = try scratch.directory("\(name)-tree\(number)")
            let content = "layer \(number) of \(name)\n" + String(repeating: "strata ", count: 200 * (number + 1))
            try write(tree + "/file\(number)", content)
            files["/file\(number)"] = content
            let tar = scratch.base + "/\(name)-layer\(number).tar"
            let diffID = try TreeArchiver.archive(source: tree, target: "/", to: tar)
            let blob = scratch.base + "/\(name)-layer\(number).blob"
            let mediaType: String
            switch kind {
            case .plain:
                try FileManager.default.copyItem(atPath: tar, toPath: blob)
                mediaType = "application/vnd.oci.image.layer.v1.tar"
            case .gzip:
                _ = try LayerCompressor.compress(tar, to: blob, with: .gzip)
                mediaType = LayerCompressor.Compression.gzip.mediaType
            case .zstd:
                _ = try LayerCompressor.compress(tar, to: blob, with: .zstd)
                mediaType = LayerCompressor.Compression.zstd.mediaType
            }
            let (digest, size) = try FileDigest.of(blob)
            try FileManager.default.moveItem(atPath: blob, toPath: OCILayout.blobPath(layout, digest))
            layers.append(OCIDescriptor(mediaType: mediaType, digest: digest, size: size))
            diffIDs.append(diffID)
        }
        let platform = Platform.current
        let config = try Self.putDocument(.object([
            "architecture": .string(platform.architecture), "os": .string(platform.os),
            "config": .object(["Env": .array([.string("LANG=C.UTF-8")]), "Cmd": .array([.string("/bin/sh")])]),
            "rootfs": .object(["type": .string("layers"), "diff_ids": .array(diffIDs.map { .string($0.description) })]),
        ]), in: layout)
        let manifest = try Self.putDocument(.object([
            "schemaVersion": .int(2),
            "mediaType": .string("application/vnd.oci.image.manifest.v1+json"),
            "config": Self.json(OCIDescriptor(mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size)),
            "layers": .array(layers.map(Self.json)),
        ]), in: layout)
        var entry = Self.json(OCIDescriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: manifest.digest, size: manifest.size))
        if case .object(var fields) = entry {
            fields["annotations"] = .object(["org.opencontainers.image.ref.name": .string(tag)])
            entry = .object(fields)
        }
        try write(layout + "/index.json", JSON.canonicalBytes(.object(["schemaVersion": .int(2), "manifests": .array([entry])])))
        try write(layout + "/oci-layout", #"{"imageLayoutVersion": "1.0.0"}"#)
        self.manifest = manifest.digest
        self.config = config.digest
        self.layers = layers
        self.diffIDs = diffIDs
        self.files = files
    }

    func blobPath(_ digest: Digest) -> String { OCILayout.blobPath(layout, digest) }

    static func json(_ descriptor: OCIDescriptor) -> JSONValue {
        .object(["mediaType": .string(descriptor.mediaType), "digest": .string(descriptor.digest.description), "size": .int(descriptor.size)])
    }

    static func putDocument(_ value: JSONValue, in layout: String) throws -> (digest: Digest, size: Int64) {
        let bytes = JSON.canonicalBytes(value)
        let digest = Digest.sha256(of: bytes)
        try write(OCILayout.blobPath(layout, digest), bytes)
        return (digest, Int64(bytes.count))
    }
}

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs `tool`; returns its standard output, throws with its standard error when it fails.
@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read before waiting: a tool that fills the pipe would otherwise never exit.
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): "
                            + String(decoding: err, as: UTF8.self))
    }
    return String(decoding: out, as: UTF8.self)
}

func write(_ path: String, _ text: String) throws { try write(path, Array(text.utf8)) }

func write(_ path: String, _ bytes: [UInt8]) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw POSIXError(.EIO) }
}

func contents(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { Array($0) } ?? []
}

func listing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// The error `body` threw (an `OCIError`, or a failed cast shows as nil), or nil.
func thrown(_ body: () throws -> Void) -> OCIError? {
    do { try body(); return nil } catch { return error as? OCIError }
}

extension OCIError {
    /// The path the error is about.
    var path: String {
        switch self {
        case .unreadable(let path, _), .invalid(let path, _), .digestMismatch(let path, _, _),
             .unsupportedMediaType(let path, _):
            return path
        case .tagNotFound(let layout, _, _): return layout
        }
    }
}

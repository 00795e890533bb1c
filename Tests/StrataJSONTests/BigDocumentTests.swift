import Foundation
import Testing
@testable import StrataJSON

@Suite struct BigDocumentTests {
    /// A lockfile-shaped document of about 5 MB.
    static func lockfile(entries: Int) -> JSONValue {
        var layers: [JSONValue] = []
        layers.reserveCapacity(entries)
        for i in 0..<entries {
            layers.append(.object([
                "name": .string("package-\(i)"),
                "version": .string("1.\(i % 97).\(i % 13)-\(i % 5)+deb12u1"),
                "architecture": .string(i % 3 == 0 ? "all" : "amd64"),
                "path": .string("pool/main/p/package-\(i)/package-\(i)_1.0_amd64.deb"),
                "size": .int(Int64(1000 + i * 37)),
                "sha256": .string(String(repeating: "0123456789abcdef", count: 4)),
                "depends": .array([.string("libc6"), .string("package-\(i / 2)")]),
            ]))
        }
        return .object(["lockfileVersion": .int(1), "layers": .array(layers), "platform": .string("linux/amd64")])
    }

    @Test func fiveMegabytes() throws {
        let value = Self.lockfile(entries: 16_000)
        let bytes = JSON.canonicalBytes(value)
        #expect(bytes.count > 5_000_000)
        #expect(try JSON.parse(bytes) == value)
        // The fast path (large chunks) takes the document by itself: parse() does not fall
        // back to the located parser's small chunks.
        let fast = bytes.withUnsafeBufferPointer { buf in FastParser(buf).flatMap { try? $0.run() } }
        #expect(fast == value)

        var broken = bytes
        let tail = Array(#", "lockfileVersion": 2}"#.utf8)
        broken.removeLast(2)  // "}\n"
        broken += tail
        #expect(throws: JSONError.self) { try JSON.parse(broken) }
    }

    @Test func realFileOnDisk() throws {
        let dir = URL(fileURLWithPath: "/tmp").appendingPathComponent("strata-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("big.lock.json")
        let value = Self.lockfile(entries: 2_000)
        try Data(JSON.canonicalBytes(value)).write(to: file)
        let bytes = [UInt8](try Data(contentsOf: file))
        #expect(try JSON.parse(bytes) == value)
        #expect(try JSON.parseLocated(bytes).value == value)
    }
}

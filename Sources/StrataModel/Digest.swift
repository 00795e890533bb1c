import Crypto

/// A `sha256:` content digest: the identity of every blob, layer and snapshot.
///
/// Guarantees: the algorithm is sha256 and `hex` is exactly 64 lowercase hex
/// characters; anything else is refused when parsing.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 64 lowercase hex characters.
    public let hex: String

    public init(hex: String) throws(DigestError) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .malformed(hex)
        }
        self.hex = hex
    }

    /// Parses `sha256:<64 lowercase hex>`.
    public init(parsing text: String) throws(DigestError) {
        guard let colon = text.firstIndex(of: ":") else { throw .malformed(text) }
        let algorithm = text[..<colon]
        guard algorithm == "sha256" else { throw .unsupportedAlgorithm(String(algorithm)) }
        do { try self.init(hex: String(text[text.index(after: colon)...])) } catch { throw .malformed(text) }
    }

    private init(validatedHex: String) { self.hex = validatedHex }

    public var description: String { "sha256:" + hex }

    /// The first 12 hex characters, as Docker shows ids.
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    /// The sha256 of `bytes`.
    public static func sha256<Bytes: Sequence>(of bytes: Bytes) -> Digest where Bytes.Element == UInt8 {
        var hasher = SHA256Stream()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    /// The chain id of an ordered stack of layer diff ids, as the OCI image
    /// spec defines it: chain(L0) = L0, chain(L0…Ln) = sha256(chain(L0…Ln-1) + " " + Ln).
    public static func chainID(of diffIDs: [Digest]) -> Digest? {
        guard var chain = diffIDs.first else { return nil }
        for next in diffIDs.dropFirst() {
            chain = sha256(of: Array("\(chain) \(next)".utf8))
        }
        return chain
    }

    fileprivate static func fromRaw<D: Sequence>(_ raw: D) -> Digest where D.Element == UInt8 {
        let table = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in raw {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0f)])
        }
        return Digest(validatedHex: String(decoding: out, as: UTF8.self))
    }
}

/// Why a digest string was refused.
public enum DigestError: Error, Equatable, Sendable {
    case malformed(String)
    case unsupportedAlgorithm(String)
}

/// Incremental sha256 (swift-crypto), for hashing while streaming.
public struct SHA256Stream {
    private var hasher = SHA256()
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) } }
    public func finalize() -> Digest { Digest.fromRaw(hasher.finalize()) }
}

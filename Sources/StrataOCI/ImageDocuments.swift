import Glibc
import StrataJSON
import StrataModel

/// A layer as an image carries it: the blob, its media type, and the uncompressed
/// tar's digest (the config's diff id).
public struct ImageLayer: Sendable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var diffID: Digest

    public init(mediaType: String, digest: Digest, size: Int64, diffID: Digest) {
        self.mediaType = mediaType; self.digest = digest; self.size = size; self.diffID = diffID
    }
}

/// One `history` entry of an image config: what made a layer.
public struct ImageHistoryEntry: Sendable, Equatable {
    public var created: String?
    public var createdBy: String
    public var comment: String?
    public var author: String?
    public var emptyLayer: Bool

    public init(created: String?, createdBy: String, comment: String? = nil, author: String? = nil, emptyLayer: Bool = false) {
        self.created = created; self.createdBy = createdBy; self.comment = comment; self.author = author
        self.emptyLayer = emptyLayer
    }
}

/// The runtime settings an image config carries (OCI image spec, `config`).
public struct ImageRuntimeConfig: Sendable, Equatable {
    public var env: [String] = []
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?
    public var labels: [String: String] = [:]
    public var stopSignal: String?

    public init() {}
}

/// An OCI image config and manifest, written as compact JSON with sorted keys, so
/// that equal inputs give equal bytes and so equal digests.
public struct ImageDocuments: Sendable {
    public static let configMediaType = "application/vnd.oci.image.config.v1+json"

    public var architecture: String
    public var os: String = "linux"
    /// RFC 3339 (`2026-11-29T10:00:00Z`); absent when unknown.
    public var created: String?
    public var author: String?
    public var runtime: ImageRuntimeConfig
    public var layers: [ImageLayer]
    /// One entry per layer, bottom first (entries with `emptyLayer` may be added among them).
    public var history: [ImageHistoryEntry]

    public init(architecture: String, created: String?, author: String?, runtime: ImageRuntimeConfig,
                layers: [ImageLayer], history: [ImageHistoryEntry]) {
        self.architecture = architecture; self.created = created; self.author = author; self.runtime = runtime
        self.layers = layers; self.history = history
    }

    public var configBytes: [UInt8] {
        var runtimeFields: [String: JSONValue] = [:]
        if !runtime.env.isEmpty { runtimeFields["Env"] = .array(runtime.env.map(JSONValue.string)) }
        if let entrypoint = runtime.entrypoint { runtimeFields["Entrypoint"] = .array(entrypoint.map(JSONValue.string)) }
        if let cmd = runtime.cmd { runtimeFields["Cmd"] = .array(cmd.map(JSONValue.string)) }
        if let dir = runtime.workingDir { runtimeFields["WorkingDir"] = .string(dir) }
        if let user = runtime.user { runtimeFields["User"] = .string(user) }
        if !runtime.labels.isEmpty { runtimeFields["Labels"] = .object(runtime.labels.mapValues(JSONValue.string)) }
        if let signal = runtime.stopSignal { runtimeFields["StopSignal"] = .string(signal) }
        var document: [String: JSONValue] = [
            "architecture": .string(architecture), "os": .string(os),
            "config": .object(runtimeFields),
            "rootfs": .object(["type": .string("layers"), "diff_ids": .array(layers.map { .string($0.diffID.description) })]),
            "history": .array(history.map { entry in
                var fields: [String: JSONValue] = ["created_by": .string(entry.createdBy)]
                if let created = entry.created { fields["created"] = .string(created) }
                if let comment = entry.comment { fields["comment"] = .string(comment) }
                if let author = entry.author { fields["author"] = .string(author) }
                if entry.emptyLayer { fields["empty_layer"] = .bool(true) }
                return .object(fields)
            }),
        ]
        if let created { document["created"] = .string(created) }
        if let author { document["author"] = .string(author) }
        return JSON.compactBytes(.object(document))
    }

    /// The image manifest for this config (`configBytes` must be stored as the config blob).
    public func manifestBytes(config: [UInt8]) -> [UInt8] {
        Self.manifestBytes(
            config: OCIDescriptor(mediaType: Self.configMediaType, digest: Digest.sha256(of: config), size: Int64(config.count)),
            layers: layers)
    }

    /// An OCI image manifest naming `config` and `layers`, as compact sorted JSON.
    public static func manifestBytes(config: OCIDescriptor, layers: [ImageLayer]) -> [UInt8] {
        func descriptor(_ mediaType: String, _ digest: Digest, _ size: Int64) -> JSONValue {
            .object(["mediaType": .string(mediaType), "digest": .string(digest.description), "size": .int(size)])
        }
        return JSON.compactBytes(.object([
            "schemaVersion": .int(2),
            "mediaType": .string(OCIIndex.manifestMediaType),
            "config": descriptor(config.mediaType, config.digest, config.size),
            "layers": .array(layers.map { descriptor($0.mediaType, $0.digest, $0.size) }),
        ]))
    }

    /// `seconds` since the epoch as RFC 3339 in UTC, as image configs write times.
    public static func timestamp(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "1970-01-01T00:00:00Z" }
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import StrataOS
import StrataJSON
import StrataModel

/// Why an OCI image could not be read, written, exported or imported. Each case names the
/// file or reference; inside an image archive the path is `ARCHIVE:ENTRY`.
public enum OCIError: Error, Equatable, Sendable {
    case unreadable(path: String, reason: String)
    /// A document, archive or output that is not what it must be; `problem` completes a
    /// sentence whose subject is the path ("is truncated or corrupt: …").
    case invalid(path: String, problem: String)
    /// The tag is not in the layout's index (the tags it has are listed).
    case tagNotFound(layout: String, tag: String, available: [String])
    /// A blob whose bytes do not hash to the digest that names it.
    case digestMismatch(path: String, expected: Digest, actual: Digest)
    case unsupportedMediaType(path: String, mediaType: String)
}

extension OCIError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read image file \(path): \(reason)"
        case .invalid(let path, let problem): return "\(path) \(problem)"
        case .tagNotFound(let layout, let tag, let available):
            let have = available.isEmpty ? "it has no tagged images" : "it has " + available.joined(separator: ", ")
            return tag.isEmpty
                ? "the OCI layout \(layout) holds several images; name one by its tag, as oci:DIR:TAG (\(have))"
                : "the OCI layout \(layout) has no image tagged \"\(tag)\" (\(have))"
        case .digestMismatch(let path, let expected, let actual):
            return "image blob \(path) is corrupt: it hashes to \(actual), not \(expected); get the image again from its source"
        case .unsupportedMediaType(let path, let mediaType):
            return "\(path) uses media type \(mediaType), which strata does not read"
        }
    }
}

/// A content descriptor as the OCI image spec defines it: what a blob is (media type),
/// its sha256 and its size in bytes. Manifests, configs and layers are all named this way.
public struct OCIDescriptor: Sendable, Hashable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64

    public init(mediaType: String, digest: Digest, size: Int64) {
        self.mediaType = mediaType; self.digest = digest; self.size = size
    }
}

/// A layer of an image, as its manifest describes it (the name callers used before
/// manifests and configs had descriptors too).
public typealias OCILayerDescriptor = OCIDescriptor

/// An image resolved from an OCI image layout on disk, every document verified
/// against its digest.
public struct OCIImage: Sendable, Equatable {
    /// The layout directory (absolute).
    public var layout: String
    /// The image manifest itself: its media type, digest and size in bytes.
    public var manifest: OCIDescriptor
    public var config: OCIDescriptor
    public var manifestDigest: Digest { manifest.digest }
    /// Bottom first, paired with `diffIDs`.
    public var layers: [OCILayerDescriptor]
    public var diffIDs: [Digest]
    public var defaults: ImageDefaults

    /// Where the layout keeps `digest`.
    public func blobPath(_ digest: Digest) -> String { OCILayout.blobPath(layout, digest) }
}

/// Reads OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/`), as
/// skopeo, umoci and buildah write them.
public enum OCILayout {
    static let indexTypes: Set<String> = [
        "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let manifestTypes: Set<String> = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    ]
    /// Layer media types whose blobs are tar streams libarchive reads (plain, gzip, zstd).
    public static let layerTypes: Set<String> = [
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    ]
    static let refNameAnnotation = "org.opencontainers.image.ref.name"
    static let ociManifestType = "application/vnd.oci.image.manifest.v1+json"
    static let ociIndexType = "application/vnd.oci.image.index.v1+json"
    static let ociConfigType = "application/vnd.oci.image.config.v1+json"
    /// OCI documents (indexes, manifests, configs) are small; a bigger one is hostile.
    static let documentLimit = 4 << 20

    public static func blobPath(_ layout: String, _ digest: Digest) -> String { layout + "/blobs/sha256/" + digest.hex }

    /// Resolves `tag` (or the layout's only image when `tag` is nil) to a verified image
    /// for `platform`.
    public static func resolve(layout: String, tag: String?, platform: Platform = .current) throws(OCIError) -> OCIImage {
        let indexPath = layout + "/index.json"
        let index = try document(at: indexPath)
        let descriptors = try manifestList(index, path: indexPath)
        let chosen: Descriptor
        if let tag {
            guard let match = descriptors.last(where: { $0.refName == tag }) else {
                throw .tagNotFound(layout: layout, tag: tag, available: descriptors.compactMap(\.refName).sorted())
            }
            chosen = match
        } else {
            guard descriptors.count == 1, let only = descriptors.first else {
                throw .tagNotFound(layout: layout, tag: "", available: descriptors.compactMap(\.refName).sorted())
            }
            chosen = only
        }
        let manifest = try selectManifest(chosen, layout: layout, platform: platform, depth: 0)
        return try image(manifest: manifest, layout: layout)
    }

    /// The image `descriptor` (a manifest, or an index to choose `platform`'s image from)
    /// names among `layout`'s blobs, verified as `resolve(layout:tag:)` verifies it.
    public static func resolve(_ descriptor: OCIDescriptor, in layout: String, platform: Platform = .current) throws(OCIError) -> OCIImage {
        let chosen = Descriptor(mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size)
        return try image(manifest: try selectManifest(chosen, layout: layout, platform: platform, depth: 0), layout: layout)
    }

    /// The one manifest (or index) `layout`'s `index.json` names, as it names it.
    public static func onlyManifest(layout: String) throws(OCIError) -> OCIDescriptor {
        let indexPath = layout + "/index.json"
        let descriptors = try manifestList(try document(at: indexPath), path: indexPath)
        guard descriptors.count == 1, let only = descriptors.first else {
            throw .invalid(path: indexPath, problem: "names \(descriptors.count) manifests, not one")
        }
        return only.contentDescriptor
    }

    /// The image whose manifest is `manifest` in `layout`, tagged or not: manifest and
    /// config verified against their digests. The manifest's media type is the one it
    /// declares, or the OCI image manifest's when it declares none (the spec allows that).
    public static func image(layout: String, manifest digest: Digest) throws(OCIError) -> OCIImage {
        let path = blobPath(layout, digest)
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path, limit: documentLimit) } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        let actual = Digest.sha256(of: bytes)
        guard actual == digest else { throw .digestMismatch(path: path, expected: digest, actual: actual) }
        let document: JSONValue
        do { document = try JSON.parse(bytes) } catch { throw .invalid(path: path, problem: "is not JSON: \(error)") }
        var mediaType = ociManifestType
        if case .object(let fields) = document, case .string(let declared)? = fields["mediaType"] { mediaType = declared }
        guard manifestTypes.contains(mediaType) else { throw .unsupportedMediaType(path: path, mediaType: mediaType) }
        let descriptor = Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
        return try image(manifest: (descriptor, document), layout: layout)
    }

    struct Descriptor {
        var mediaType: String
        var digest: Digest
        var size: Int64
        var refName: String?
        var platform: Platform?

        var contentDescriptor: OCIDescriptor { OCIDescriptor(mediaType: mediaType, digest: digest, size: size) }
    }

    static func document(at path: String) throws(OCIError) -> JSONValue {
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path, limit: documentLimit) } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        do { return try JSON.parse(bytes) } catch { throw .invalid(path: path, problem: "is not JSON: \(error)") }
    }

    /// A blob's bytes, checked against its digest (and size) before they are parsed.
    static func verifiedBlob(layout: String, _ descriptor: Descriptor) throws(OCIError) -> JSONValue {
        let path = blobPath(layout, descriptor.digest)
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path, limit: documentLimit) } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        let actual = Digest.sha256(of: bytes)
        guard actual == descriptor.digest else { throw .digestMismatch(path: path, expected: descriptor.digest, actual: actual) }
        guard Int64(bytes.count) == descriptor.size else {
            throw .invalid(path: path, problem: "is \(bytes.count) bytes, its descriptor says \(descriptor.size)")
        }
        do { return try JSON.parse(bytes) } catch { throw .invalid(path: path, problem: "is not JSON: \(error)") }
    }

    static func descriptor(_ value: JSONValue, path: String) throws(OCIError) -> Descriptor {
        guard case .object(let fields) = value,
              case .string(let mediaType)? = fields["mediaType"],
              case .string(let digestText)? = fields["digest"],
              case .int(let size)? = fields["size"], size >= 0 else {
            throw .invalid(path: path, problem: "has a descriptor without mediaType, digest and size")
        }
        let digest: Digest
        do { digest = try Digest(parsing: digestText) } catch {
            throw .invalid(path: path, problem: "names \"\(digestText)\", which is not a sha256 digest")
        }
        var refName: String?
        if case .object(let annotations)? = fields["annotations"], case .string(let name)? = annotations[refNameAnnotation] {
            refName = name
        }
        var platform: Platform?
        if case .object(let p)? = fields["platform"], case .string(let os)? = p["os"], case .string(let arch)? = p["architecture"] {
            platform = Platform(os: os, architecture: arch)
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: size, refName: refName, platform: platform)
    }

    static func manifestList(_ index: JSONValue, path: String) throws(OCIError) -> [Descriptor] {
        guard case .object(let fields) = index, case .array(let manifests)? = fields["manifests"] else {
            throw .invalid(path: path, problem: "has no \"manifests\" array")
        }
        var out: [Descriptor] = []
        for item in manifests { out.append(try descriptor(item, path: path)) }
        return out
    }

    /// Follows image indexes down to the image manifest for `platform`.
    static func selectManifest(_ descriptor: Descriptor, layout: String, platform: Platform, depth: Int) throws(OCIError) -> (Descriptor, JSONValue) {
        let path = blobPath(layout, descriptor.digest)
        if manifestTypes.contains(descriptor.mediaType) {
            return (descriptor, try verifiedBlob(layout: layout, descriptor))
        }
        guard indexTypes.contains(descriptor.mediaType), depth < 4 else {
            throw .unsupportedMediaType(path: path, mediaType: descriptor.mediaType)
        }
        let nested = try manifestList(try verifiedBlob(layout: layout, descriptor), path: path)
        guard let match = nested.first(where: { $0.platform == platform }) ?? (nested.count == 1 ? nested.first : nil) else {
            throw .invalid(path: path, problem: "has no image for \(platform)")
        }
        return try selectManifest(match, layout: layout, platform: platform, depth: depth + 1)
    }

    static func image(manifest: (Descriptor, JSONValue), layout: String) throws(OCIError) -> OCIImage {
        let (descriptor, document) = manifest
        let path = blobPath(layout, descriptor.digest)
        guard case .object(let fields) = document, let configValue = fields["config"],
              case .array(let layerValues)? = fields["layers"] else {
            throw .invalid(path: path, problem: "is not an image manifest (no config or layers)")
        }
        let configDescriptor = try self.descriptor(configValue, path: path)
        var layers: [OCILayerDescriptor] = []
        for value in layerValues {
            let layer = try self.descriptor(value, path: path)
            guard layerTypes.contains(layer.mediaType) else {
                throw .unsupportedMediaType(path: path, mediaType: layer.mediaType)
            }
            layers.append(layer.contentDescriptor)
        }
        let configPath = blobPath(layout, configDescriptor.digest)
        guard case .object(let config) = try verifiedBlob(layout: layout, configDescriptor) else {
            throw .invalid(path: configPath, problem: "is not an image config")
        }
        guard case .object(let rootfs)? = config["rootfs"], case .array(let diffValues)? = rootfs["diff_ids"] else {
            throw .invalid(path: configPath, problem: "has no rootfs.diff_ids")
        }
        var diffIDs: [Digest] = []
        for value in diffValues {
            guard case .string(let text) = value, let digest = try? Digest(parsing: text) else {
                throw .invalid(path: configPath, problem: "has a diff id that is not a sha256 digest")
            }
            diffIDs.append(digest)
        }
        guard diffIDs.count == layers.count else {
            throw .invalid(path: configPath, problem: "lists \(diffIDs.count) diff ids for \(layers.count) layers")
        }
        var defaults = ImageDefaults()
        if case .object(let runtime)? = config["config"] {
            defaults.env = strings(runtime["Env"]) ?? []
            if case .string(let dir)? = runtime["WorkingDir"], !dir.isEmpty { defaults.workingDir = dir }
            defaults.entrypoint = strings(runtime["Entrypoint"])
            defaults.cmd = strings(runtime["Cmd"])
            if case .string(let user)? = runtime["User"], !user.isEmpty { defaults.user = user }
            if case .object(let labels)? = runtime["Labels"] {
                for (key, value) in labels { if case .string(let text) = value { defaults.labels[key] = text } }
            }
        }
        return OCIImage(layout: layout, manifest: descriptor.contentDescriptor, config: configDescriptor.contentDescriptor,
                        layers: layers, diffIDs: diffIDs, defaults: defaults)
    }

    static func strings(_ value: JSONValue?) -> [String]? {
        guard case .array(let items)? = value else { return nil }
        var out: [String] = []
        for item in items { if case .string(let text) = item { out.append(text) } }
        return out
    }
}

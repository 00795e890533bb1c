import Glibc
import StrataOS
import StrataJSON
import StrataModel

/// One `stage` call's state: the archive's files in scratch, and the blobs placed so far.
final class ImageArchiveStaging {
    static let scratchName = ".archive-entries"

    let directory: String
    let scratch: String
    let entries: ImageArchiveEntries
    private var placed: Set<Digest> = []

    init(archive: String, directory: String) throws(OCIError) {
        self.directory = directory
        scratch = directory + "/" + Self.scratchName
        for path in [scratch, directory + "/blobs", directory + "/blobs/sha256"] {
            guard mkdir(path, 0o700) == 0 else { throw .invalid(path: path, problem: "cannot be created: \(SystemError.text(errno))") }
        }
        entries = try ImageArchiveEntries.read(archive: archive, into: scratch)
    }

    var archive: String { entries.archive }

    func stage() throws(OCIError) -> StagedArchive {
        if entries.has("index.json") {
            var images = try stageLayout()
            if entries.has("manifest.json") { try addRepoTags(to: &images) }
            return StagedArchive(format: .ociLayout, images: images.map(\.staged))
        }
        if entries.has("manifest.json") {
            return StagedArchive(format: .dockerArchive, images: try stageDockerArchive())
        }
        throw .invalid(path: archive, problem: "is not an image archive: it holds neither index.json (OCI) nor manifest.json (docker save)")
    }

    /// A verified file of the archive published as `blobs/sha256/<its digest>`.
    func place(_ file: ArchivedFile) throws(OCIError) {
        guard placed.insert(file.digest).inserted else { return }
        let target = OCILayout.blobPath(directory, file.digest)
        do { try FileSystem.rename(file.scratch, to: target) } catch {
            throw .invalid(path: target, problem: "cannot be created: \(error.reason)")
        }
    }

    /// Where `file`'s bytes are: its scratch file, or the blob it became.
    func location(of file: ArchivedFile) -> String {
        placed.contains(file.digest) ? OCILayout.blobPath(directory, file.digest) : file.scratch
    }

    /// `bytes` published as a blob (documents strata writes itself); returns its descriptor.
    func placeDocument(_ bytes: [UInt8], mediaType: String) throws(OCIError) -> OCIDescriptor {
        let digest = Digest.sha256(of: bytes)
        if placed.insert(digest).inserted {
            let target = OCILayout.blobPath(directory, digest)
            do { try HostFile.writeAtomically(bytes, to: target) } catch {
                throw .invalid(path: target, problem: "cannot be created: \(error.reason)")
            }
        }
        return OCIDescriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// An archive file that is an OCI or docker JSON document (at most 4 MiB), parsed.
    func document(_ file: ArchivedFile, name: String) throws(OCIError) -> JSONValue {
        guard file.size <= Int64(OCILayout.documentLimit) else {
            throw .invalid(path: entries.label(name), problem: "is \(file.size) bytes, more than the \(OCILayout.documentLimit >> 20) MiB an image document may have")
        }
        let bytes: [UInt8]
        let path = location(of: file)
        do { bytes = try HostFile.read(path, limit: OCILayout.documentLimit) } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        do { return try JSON.parse(bytes) } catch {
            throw .invalid(path: entries.label(name), problem: "is not JSON: \(error)")
        }
    }

    /// `oci-layout` and an `index.json` naming each image once per name, so that
    /// `OCILayout.resolve(layout: directory, tag:)` finds them.
    func writeLayout(_ images: [StagedImage]) throws(OCIError) {
        var manifests: [JSONValue] = []
        for image in images {
            let base: [String: JSONValue] = [
                "mediaType": .string(image.manifest.mediaType),
                "digest": .string(image.manifest.digest.description),
                "size": .int(image.manifest.size),
            ]
            if image.refNames.isEmpty { manifests.append(.object(base)) }
            for name in image.refNames {
                var named = base
                named["annotations"] = .object([OCILayout.refNameAnnotation: .string(name)])
                manifests.append(.object(named))
            }
        }
        let index: JSONValue = .object([
            "schemaVersion": .int(2), "mediaType": .string(OCILayout.ociIndexType), "manifests": .array(manifests),
        ])
        let files: [(String, JSONValue)] = [
            ("oci-layout", .object(["imageLayoutVersion": .string("1.0.0")])), ("index.json", index),
        ]
        for (name, value) in files {
            do { try HostFile.writeAtomically(JSON.canonicalBytes(value), to: directory + "/" + name) } catch {
                throw .invalid(path: directory + "/" + name, problem: "cannot be created: \(error.reason)")
            }
        }
    }

    /// Drops the archive files no image needed.
    func removeScratch() { removeFlatDirectory(scratch) }
}

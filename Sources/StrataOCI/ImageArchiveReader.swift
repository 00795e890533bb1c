import Glibc
import StrataOS
import StrataJSON
import StrataModel

/// Which kind of image archive a file was.
public enum ImageArchiveFormat: String, Sendable, CaseIterable {
    /// A tar of an OCI image layout (`oci-layout`, `index.json`, `blobs/`), as `skopeo copy
    /// … oci-archive:`, `podman save --format oci-archive` and newer `docker save` write.
    case ociLayout = "oci"
    /// The classic `docker save` format (`manifest.json`, configs and layer tars).
    case dockerArchive = "docker-archive"
}

/// One image of a staged archive: its manifest's descriptor and every blob it needs,
/// all present and verified in the staging directory.
public struct StagedImage: Sendable, Equatable {
    /// The names the archive gives the image, as written there: the OCI
    /// `org.opencontainers.image.ref.name` annotations (skopeo and podman write what they
    /// were given, which may be a bare tag such as `latest`), or docker `RepoTags` (such as
    /// `docker.io/library/name:latest`). An archive with both formats (`docker save` since
    /// 25, whose ref.name is only the tag) gives its RepoTags. May be empty.
    public var refNames: [String]
    public var manifest: OCIDescriptor
    /// The manifest first, then (for an index) the manifests it holds, configs and layers;
    /// each once.
    public var blobs: [Digest]
}

/// What `ImageArchiveReader.stage` left in its directory.
public struct StagedArchive: Sendable, Equatable {
    public var format: ImageArchiveFormat
    public var images: [StagedImage]
}

/// Reads image archives written by `podman save` (docker-archive and oci-archive),
/// `skopeo copy … oci-archive:`/`docker-archive:`, `docker save` (old and new) or
/// `ImageArchiveWriter`, plain or compressed, and stages their images as an OCI image layout.
///
/// Guarantees: when `stage` returns, `directory` holds `oci-layout`, `index.json` (one
/// descriptor per image and name) and `blobs/sha256/<hex>` for exactly the blobs the
/// images need, each one's bytes hashing to its name and matching the size its descriptor
/// gives, every docker-archive layer matching its diff id. When it throws, `directory` is
/// left empty. A docker-archive image becomes an OCI image: its config as is, its layer
/// tars as they are in the archive (`application/vnd.oci.image.layer.v1.tar`, or `+gzip`/
/// `+zstd` when compressed), and a new OCI image manifest (canonical JSON).
public enum ImageArchiveReader {
    /// Stages the images of `archive` into `directory`, which must exist and be empty
    /// (on the file system the blobs will be published to, so that moving them is a rename).
    public static func stage(archive: String, into directory: String) throws(OCIError) -> StagedArchive {
        try requireEmpty(directory)
        do {
            let staging = try ImageArchiveStaging(archive: archive, directory: directory)
            let result = try staging.stage()
            try staging.writeLayout(result.images)
            staging.removeScratch()
            return result
        } catch {
            removeStaged(directory)
            throw error
        }
    }

    private static func requireEmpty(_ directory: String) throws(OCIError) {
        let names: [String]
        do { names = try Directory.names(directory) } catch {
            throw .invalid(path: directory, problem: "cannot be opened as the staging directory: \(error.reason)")
        }
        guard names.isEmpty else {
            throw .invalid(path: directory, problem: "is not empty; stage an archive into a new directory")
        }
    }

    /// Removes what staging created (and only that: `directory` was empty before).
    private static func removeStaged(_ directory: String) {
        for flat in [ImageArchiveStaging.scratchName, "blobs/sha256"] { removeFlatDirectory(directory + "/" + flat) }
        rmdir(directory + "/blobs")
        unlink(directory + "/index.json")
        unlink(directory + "/oci-layout")
    }
}

/// Removes a directory of plain files that staging made (no subdirectories, no links).
func removeFlatDirectory(_ path: String) {
    // Best effort, as the whole removal: what cannot be listed stays behind in a temp dir.
    for name in (try? Directory.names(path)) ?? [] { unlink(path + "/" + name) }
    rmdir(path)
}

import StrataEnvironment
import StrataFetchClient
import StrataModel
import StrataOCI
import StrataOS
import StrataRegistry
import StrataStore

extension ImageStore {
    /// `strata pull REF`: the image `reference` names (for an index, this machine's
    /// platform's), fetched by `strata-fetch` into a staging layout, every blob verified,
    /// then stored and tagged as Docker names it (`debian:bookworm`, `localhost:5000/app:1`).
    /// Nothing is stored or tagged unless the whole image arrived. Returns the tag and the
    /// manifest digest the reference resolved to (an index's, for a multi-platform image).
    ///
    /// HTTPS unless the registry is this machine or listed in `STRATA_INSECURE_REGISTRIES`
    /// (hosts separated by spaces or commas). This first version needs no credentials.
    public func pull(_ reference: RegistryReference) throws(StrataError) -> (tag: String, digest: Digest) {
        guard let tagName = reference.tag else {
            throw .usage("\(reference.familiar) names no tag; pulling by digest alone comes later: give NAME:TAG")
        }
        let name = reference.familiar.split(separator: "@").first.map { String($0.dropLast(tagName.count + 1)) } ?? reference.familiar
        let tag: ImageReference
        do { tag = try ImageReference(parsing: name + ":" + tagName) } catch { throw .usage(error.description) }
        let staging = store.temporaryPath("pull")
        do { try store.makeTemporaryDirectory(staging) } catch { throw .store(error) }
        defer { removeStaging(staging) }
        var job = RegistryPullJob(base: scheme(for: reference) + "://" + reference.apiHost, repository: reference.repository,
                                  reference: reference.manifestReference, os: Platform.current.os,
                                  architecture: Platform.current.architecture, staging: staging)
        let credential: RegistryCredential
        do { credential = try RegistryCredentials(variables: context.variables).credential(for: reference) } catch {
            throw .input(path: error.path, reason: error.reason)
        }
        switch credential {
        case .anonymous: break
        case .basic(let username, let password): (job.username, job.password) = (username, password)
        case .identityToken, .helper:
            throw .usage("the credentials for \(reference.host) are an identity token or a credential helper, which this strata does not use yet; give a username and password (podman login, or docker login without a helper)")
        }
        let client = FetchClient(mirrors: [], tool: context.fetchTool ?? FetchClient.toolBesideThisExecutable(), progress: context.progress)
        do { try client.pull(job, progress: true) } catch { throw .fetch(error) }
        let manifest: OCIDescriptor
        do {
            manifest = try OCILayout.onlyManifest(layout: staging)
            // Manifest and config checked against their digests, the layers listed as the config says.
            _ = try OCILayout.resolve(layout: staging, tag: nil)
        } catch { throw .image(error) }
        let blobs: [String]
        do { blobs = try Directory.names(staging + "/blobs/sha256") } catch {
            throw .input(path: staging, reason: error.reason)
        }
        for hex in blobs {
            let digest: Digest
            do { digest = try Digest(parsing: "sha256:" + hex) } catch { continue }
            do { try store.ingestBlob(copying: OCILayout.blobPath(staging, digest), expected: digest) } catch { throw .store(error) }
        }
        try updateIndex { (index) throws(StrataError) in
            index.setTag(tag.description, manifest: manifest.digest, size: manifest.size, mediaType: manifest.mediaType)
        }
        return (tag.description, manifest.digest)
    }

    /// `http` for this machine and the registries the caller lists as insecure, else `https`.
    func scheme(for reference: RegistryReference) -> String {
        if reference.isLoopback { return "http" }
        let insecure = (context.variables["STRATA_INSECURE_REGISTRIES"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," })
        return insecure.contains { $0 == reference.host } ? "http" : "https"
    }
}

import StrataEnvironment
import StrataImages
import StrataJSON
import StrataModel
import StrataStore

/// Images changed through the API: pull, push, tag, remove, commit. Pull and push answer
/// with Docker's progress lines (JSON, one per line); a failure after the head has gone
/// is a line with `error`, as Docker's is.
extension Daemon {
    /// `POST /images/create?fromImage=NAME&tag=TAG`.
    func pull(_ request: APIRequest, _ responder: Responder) throws(APIError) {
        guard let from = request.parameter("fromImage"), !from.isEmpty else {
            if request.parameter("fromSrc") != nil {
                throw APIError(.badRequest, "importing a root filesystem through the API is not supported; use `strata import FILE NAME:TAG`")
            }
            throw APIError(.badRequest, "give fromImage: the image to pull")
        }
        let tag = request.parameter("tag").flatMap { $0.isEmpty ? nil : $0 }
        let text = tag.map { $0.hasPrefix("sha256:") ? from + "@" + $0 : from + ":" + $0 } ?? from
        let reference: RegistryReference
        do { reference = try RegistryReference(parsing: text) } catch {
            throw APIError(.badRequest, "invalid reference format: \(error.description)")
        }
        let engine = try self.engine(lease: true)
        let pulled: PulledImage
        do { pulled = try engine.images.pull(reference) } catch {
            switch error {
            case .imageNotFound, .image(.tagNotFound):
                throw APIError(.notFound, "pull access denied for \(from), repository does not exist or may require 'docker login': \(error)")
            default: throw APIError(error)
            }
        }
        engine.context.releaseLease()
        let body = responder.startStream(contentType: "application/json")
        body.write(json: .object(["status": .string("Pulling from \(reference.repository)"), "id": .string(reference.tag ?? "latest")]))
        for layer in pulled.manifest.layers {
            body.write(json: .object(["status": .string("Pull complete"), "id": .string(String(layer.digest.hex.prefix(12)))]))
        }
        body.write(json: .object(["status": .string("Digest: \(pulled.digest)")]))
        let verb = pulled.downloaded > 0 ? "Downloaded newer image for" : "Image is up to date for"
        body.write(json: .object(["status": .string("Status: \(verb) \(pulled.name)")]))
        body.finish()
        events.emit("image", "pull", id: pulled.name)
    }

    /// `POST /images/{name}/push?tag=TAG`: to the registry the name says, as `docker push`.
    func push(_ name: String, _ request: APIRequest, _ responder: Responder) throws(APIError) {
        let tag = request.parameter("tag").flatMap { $0.isEmpty ? nil : $0 }
        let source = tag.map { name + ":" + $0 } ?? name
        let destination: RegistryReference
        do { destination = try RegistryReference(parsing: source) } catch {
            throw APIError(.badRequest, "invalid reference format: \(error.description)")
        }
        let engine = try self.engine(lease: true)
        let body = responder.startStream(contentType: "application/json")
        body.write(json: .object(["status": .string("The push refers to repository [\(destination.host)/\(destination.repository)]")]))
        do {
            let pushed = try engine.images.push(Self.storeName(source), to: destination)
            body.write(json: .object(["status": .string("\(destination.tag ?? "latest"): digest: \(pushed.digest)")]))
            body.write(json: .object(["aux": .object(["Tag": .string(destination.tag ?? "latest"), "Digest": .string(pushed.digest.description)])]))
            events.emit("image", "push", id: source)
        } catch {
            let message = error.description
            body.write(json: .object(["errorDetail": .object(["message": .string(message)]), "error": .string(message)]))
        }
        body.finish()
    }

    /// `POST /images/{name}/tag?repo=REPO&tag=TAG`.
    func tag(_ name: String, _ request: APIRequest) throws(APIError) {
        guard let repository = request.parameter("repo"), !repository.isEmpty else { throw APIError(.badRequest, "repository name (repo) is required") }
        let tag = request.parameter("tag").flatMap { $0.isEmpty ? nil : $0 } ?? ImageReference.defaultTag
        let target: ImageReference
        do { target = try ImageReference(parsing: Self.storeName(repository) + ":" + tag) } catch {
            throw APIError(.badRequest, "invalid reference format: \(error.description)")
        }
        let engine = try self.engine()
        do { try engine.images.tag(Self.storeName(name), as: target) } catch {
            if case .imageNotFound = error { throw .noSuchImage(name) }
            throw APIError(error)
        }
        events.emit("image", "tag", id: target.description)
    }

    /// `DELETE /images/{name}`: the tag goes; the image too once no tag names it. Its
    /// blobs stay while a container's session stands on them (gc decides, as always).
    func removeImage(_ name: String) throws(APIError) -> JSONValue {
        let engine = try self.engine()
        var answer: [JSONValue] = []
        do throws(StrataError) {
            let reference = try engine.images.reference(Self.storeName(name))
            let digest = try engine.images.list().first { $0.reference == reference }?.manifest
            let untagged = try engine.images.untag(reference)
            answer.append(.object(["Untagged": .string(untagged)]))
            if let digest, !(try engine.images.list().contains { $0.manifest == digest }) {
                answer.append(.object(["Deleted": .string(digest.description)]))
            }
        } catch {
            if case .imageNotFound = error { throw .noSuchImage(name) }
            throw APIError(error)
        }
        events.emit("image", "untag", id: name)
        return .array(answer)
    }

    /// `POST /commit?container=ID&repo=REPO&tag=TAG`: the container's changes as a new
    /// layer on its image, as `strata commit` makes it.
    func commit(_ request: APIRequest) throws(APIError) -> JSONValue {
        guard let container = request.parameter("container"), !container.isEmpty else {
            throw APIError(.badRequest, "give container: the container to commit")
        }
        let session = try self.session(container)
        guard let repository = request.parameter("repo"), !repository.isEmpty else {
            throw APIError(.badRequest, "strata tags every image it commits: give repo (and tag), as `docker commit CONTAINER NAME:TAG`")
        }
        let tag = request.parameter("tag").flatMap { $0.isEmpty ? nil : $0 } ?? ImageReference.defaultTag
        let reference: ImageReference
        do { reference = try ImageReference(parsing: Self.storeName(repository) + ":" + tag) } catch {
            throw APIError(.badRequest, "invalid reference format: \(error.description)")
        }
        let changes = request.query["changes"]?.filter { !$0.isEmpty } ?? []
        let options = CommitOptions(reference: reference, message: request.parameter("comment").flatMap { $0.isEmpty ? nil : $0 },
                                    author: request.parameter("author").flatMap { $0.isEmpty ? nil : $0 }, changes: changes)
        let engine = try self.engine(lease: true)
        let result: CommitResult
        do { result = try engine.images.commit(session: session.id, options: options) } catch { throw APIError(error) }
        events.emit("container", "commit", id: session.id, attributes: ["comment": options.message ?? "", "imageRef": reference.description])
        return .object(["Id": .string(result.manifest.description)])
    }
}

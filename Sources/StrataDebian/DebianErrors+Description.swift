import Glibc
import StrataOS
import StrataArchive

// One sentence each, for the CLI: what is wrong and where.

extension ControlFileError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .missingColon(let line): return "line \(line) is not \"Name: value\""
        case .emptyFieldName(let line): return "line \(line) has no field name before ':'"
        case .invalidFieldName(let name, let line): return "line \(line): \"\(name)\" is not a valid field name"
        case .continuationWithoutField(let line): return "line \(line) continues a field that was never started"
        case .duplicateField(let name, let line): return "line \(line): field \(name) appears twice in one paragraph"
        case .invalidUTF8(let line): return "line \(line) is not valid UTF-8"
        case .missingField(let field, let package, let line):
            return "the paragraph at line \(line)\(package.map { " (\($0))" } ?? "") has no \(field) field"
        case .invalidValue(let field, let value, let package, let line):
            return "line \(line)\(package.map { " (\($0))" } ?? ""): \(field) \"\(value)\" is not valid"
        case .unexpectedParagraph(let line): return "a second paragraph starts at line \(line) where only one belongs"
        case .notClearSigned: return "it is not an OpenPGP clear-signed message"
        case .malformedClearSignature(let reason, let line): return "line \(line): broken clear signature (\(reason))"
        }
    }
}

extension DebPackageError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unreadable(let path, let code): return "cannot read \(path): \(SystemError.text(code))"
        case .notAnArArchive(let path, let reason): return "\(path) is not a .deb (not an ar archive: \(reason))"
        case .unexpectedMember(let path, let member, let expected): return "\(path) has member \(member) where \(expected) belongs"
        case .missingMember(let path, let expected): return "\(path) ends before its \(expected) member"
        case .unsupportedFormatVersion(let path, let version): return "\(path) is .deb format \(version), not 2.x"
        case .corrupt(let path, let member, let reason): return "\(path)\(member.map { " (\($0))" } ?? "") is damaged: \(reason)"
        case .tooLarge(let path, let member, let limit): return "\(path): \(member) exceeds the limit of \(limit)"
        case .badControlTarball(let path, let member, let file, let reason): return "\(path): \(member): \(file): \(reason)"
        case .invalidControl(let path, let error): return "\(path): its control file: \(error)"
        case .malformedControlFile(let path, let file, let line, let reason): return "\(path): \(file) line \(line): \(reason)"
        case .cannotWrite(let path, let destination, let code):
            return "cannot copy the data of \(path) to \(destination): \(SystemError.text(code))"
        }
    }
}

extension DebLayerError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .package(let error): return error.description
        case .unpack(let deb, let error): return "\(deb): \(error)"
        case .invalidControl(let deb, let error): return "\(deb): its control paragraph: \(error)"
        case .destinationNotEmpty(let deb, let destination): return "\(deb): \(destination) is not an empty directory"
        case .conflictingEntry(let deb, let path, let reason): return "\(deb): \(path): \(reason)"
        case .layerIO(let deb, let path, let reason): return "\(deb.map { $0 + ": " } ?? "")\(path): \(reason)"
        }
    }
}

extension ReleaseVerificationError: CustomStringConvertible {
    /// One sentence about the file at `path`.
    public var description: String { description(subject: "the InRelease file \(path)") }

    /// One sentence, naming the file as `subject` ("the InRelease file of bookworm"):
    /// the file verified is a download in the store's `tmp/`, whose name says nothing.
    public func description(subject what: String) -> String {
        let fix = "check the mirror, or the manifest's \"keyring\""
        switch self {
        case .unreadable(let path, let code): return "cannot read \(path): \(SystemError.text(code))"
        case .keyringUnreadable(_, let keyring, let code):
            return "cannot read the keyring \(keyring): \(SystemError.text(code)); install debian-archive-keyring or fix \"keyring\""
        case .gpgvMissing(_, let gpgv): return "\(gpgv) is missing; install the gpgv package to verify Debian archives"
        case .gpgvFailed(_, let detail): return "cannot verify \(what): gpgv \(detail)"
        case .unsigned: return "\(what) is not signed; refusing it (\(fix))"
        case .badSignature(_, let key): return "\(what) has a bad signature by key \(key): it was tampered with or damaged; refusing it (\(fix))"
        case .unknownKey(_, let key): return "\(what) is signed by key \(key), which is not in the trusted keyring; refusing it (\(fix))"
        case .expiredKey(_, let key): return "\(what) is signed by expired key \(key); refusing it (update debian-archive-keyring)"
        case .revokedKey(_, let key): return "\(what) is signed by revoked key \(key); refusing it"
        case .unverifiableSignature(_, let key, let rc): return "cannot check the signature of \(what) by key \(key) (gpgv reason \(rc)); refusing it"
        case .changedDuringVerification: return "\(what) changed while it was being verified; try again"
        case .malformed(_, let problem): return "\(what) is not a valid Release file: \(problem)"
        case .expiredRelease(_, let validUntil): return "\(what) expired on \(validUntil); the mirror is stale, use another one (--mirror)"
        case .dateInFuture(_, let date): return "\(what) is dated \(date), in the future; check this machine's clock"
        }
    }

    /// The file the error is about.
    public var path: String {
        switch self {
        case .unreadable(let path, _), .keyringUnreadable(let path, _, _), .gpgvMissing(let path, _), .gpgvFailed(let path, _),
             .unsigned(let path), .badSignature(let path, _), .unknownKey(let path, _), .expiredKey(let path, _),
             .revokedKey(let path, _), .unverifiableSignature(let path, _, _), .changedDuringVerification(let path),
             .malformed(let path, _), .expiredRelease(let path, _), .dateInFuture(let path, _):
            return path
        }
    }
}

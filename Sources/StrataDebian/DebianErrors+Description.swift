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
        case .unpack(let deb, let error):
            let why: String
            switch error {
            case .unreadable(let path, let reason): why = "cannot read \(path): \(reason)"
            case .corrupt(_, let reason): why = "its data is not a valid tar archive: \(reason)"
            case .unsafeEntry(let entry, let reason): why = "refused entry \"\(entry)\": \(reason)"
            case .limitExceeded(let entry, let limit): why = "entry \"\(entry)\" exceeds the limit on \(limit)"
            case .io(let path, let reason): why = "cannot write \(path): \(reason)"
            }
            return "\(deb): \(why)"
        case .invalidControl(let deb, let error): return "\(deb): its control paragraph: \(error)"
        case .destinationNotEmpty(let deb, let destination): return "\(deb): \(destination) is not an empty directory"
        case .conflictingEntry(let deb, let path, let reason): return "\(deb): \(path): \(reason)"
        case .layerIO(let deb, let path, let reason): return "\(deb.map { $0 + ": " } ?? "")\(path): \(reason)"
        }
    }
}

import Foundation
import Testing

/// The architecture's rules, read off `Package.swift` and the sources: only the CLI and the
/// tool entry points read process state, and only the archive module reaches libarchive.
@Suite struct ModuleRulesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The entry points: the processes strata starts as, which turn their process state into a request.
    static let entryPoints: Set<String> = ["StrataCLI", "StrataFetchTool", "StrataServeTool"]

    /// Every source target of the package (`.target`, `.executableTarget`) by name.
    static func sourceTargets() throws -> [String] {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"\.(target|executableTarget)\(\s*name:\s*"([^"]+)""#)
        let range = NSRange(manifest.startIndex..., in: manifest)
        return pattern.matches(in: manifest, range: range).compactMap { match in
            Range(match.range(at: 2), in: manifest).map { String(manifest[$0]) }
        }
    }

    /// Every target declaration of `Package.swift`: its kind, name and whole text (to its closing parenthesis).
    static func declarations() throws -> [(kind: String, name: String, text: String)] {
        let manifest = Array(try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8))
        var found: [(String, String, String)] = []
        var index = 0
        while index < manifest.count {
            guard manifest[index] == ".", let open = manifest[index...].firstIndex(of: "(") else { index += 1; continue }
            let kind = String(manifest[(index + 1)..<open])
            guard ["target", "executableTarget", "testTarget", "systemLibrary"].contains(kind) else { index += 1; continue }
            var depth = 0
            var end = open
            repeat {
                if manifest[end] == "(" { depth += 1 } else if manifest[end] == ")" { depth -= 1 }
                end += 1
            } while depth > 0 && end < manifest.count
            let text = String(manifest[open..<end])
            let name = text.components(separatedBy: "name: \"").dropFirst().first?.components(separatedBy: "\"").first ?? ""
            found.append((kind, name, text))
            index = end
        }
        return found
    }

    /// The code of a target's sources (Swift and C), comments removed.
    static func code(of target: String) throws -> [(file: String, text: String)] {
        let directory = root.appendingPathComponent("Sources/" + target)
        let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return try files.filter { ["swift", "c", "h"].contains($0.pathExtension) }.map { url in
            let text = try String(contentsOf: url, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
                guard let comment = line.range(of: "//") else { return line }
                return line[..<comment.lowerBound]
            }
            let uncommented = lines.joined(separator: "\n")
                .replacingOccurrences(of: #"/\*(.|\n)*?\*/"#, with: "", options: .regularExpression)
            return (url.path.replacingOccurrences(of: root.path + "/", with: ""), uncommented)
        }
    }

    @Test func theTargetsAreFound() throws {
        let targets = try Self.sourceTargets()
        #expect(targets.contains("StrataOS") && targets.contains("StrataCLI") && targets.contains("StrataArchive"), "\(targets)")
        #expect(targets.count >= 15, "\(targets)")
    }

    @Test("only the CLI and the tool entry points read process state (getenv, isatty, environ, getcwd)")
    func processStateOnlyAtEntryPoints() throws {
        let calls = try NSRegularExpression(pattern: #"\b(getenv|isatty|getcwd)\s*\(|\benviron\b"#)
        var found: [String] = []
        for target in try Self.sourceTargets() where !Self.entryPoints.contains(target) {
            for (file, text) in try Self.code(of: target) {
                for match in calls.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    let call = Range(match.range, in: text).map { String(text[$0]) } ?? "?"
                    // The sandbox's C child reads the *session's* working directory after chdir.
                    if call.hasPrefix("getcwd") && target == "CSandbox" { continue }
                    found.append("\(file): \(call)")
                }
            }
        }
        #expect(found.isEmpty, "process state read below the entry points: \(found)")
    }

    @Test("only StrataArchive imports libarchive's C module")
    func onlyTheArchiveModuleTouchesLibarchive() throws {
        var found: [String] = []
        for target in try Self.sourceTargets() where target != "StrataArchive" {
            for (file, text) in try Self.code(of: target) where text.contains("import CArchive") || text.contains("archive_read_new") {
                found.append(file)
            }
        }
        #expect(found.isEmpty, "libarchive used outside StrataArchive: \(found)")
        let users = try Self.declarations().filter { ["target", "executableTarget"].contains($0.kind) && $0.text.contains("\"CArchive\"") }.map(\.name)
        #expect(users == ["StrataArchive"], "source targets depending on CArchive: \(users)")
    }
}

import Glibc
import StrataOS

/// The mirrors the host's apt is configured with, so that strata fetches from the
/// same place apt does (often the only archive a machine may reach).
///
/// Reads deb822 `*.sources` files and one-line `sources.list`/`*.list` files under an apt
/// configuration root. Only `deb` entries that are enabled and carry the suite count.
public enum AptSources {
    /// Base URLs of the enabled `deb` sources that list `suite`, in apt's reading order
    /// (`sources.list`, then `sources.list.d/` sorted by name), without repeats.
    public static func mirrors(forSuite suite: String, root: String = "/etc/apt") -> [String] {
        var files = [root + "/sources.list"]
        files += directoryEntries(root + "/sources.list.d").sorted()
            .filter { $0.hasSuffix(".list") || $0.hasSuffix(".sources") }
            .map { root + "/sources.list.d/" + $0 }
        var mirrors: [String] = []
        for file in files {
            guard let text = readText(file) else { continue }
            let found = file.hasSuffix(".sources") ? deb822(text, suite: suite) : oneLine(text, suite: suite)
            for url in found where !mirrors.contains(url) { mirrors.append(url) }
        }
        return mirrors
    }

    /// `deb [options] URI SUITE [COMPONENT…]` lines.
    static func oneLine(_ text: String, suite: String) -> [String] {
        var urls: [String] = []
        for raw in text.split(separator: "\n") {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.first == "deb" else { continue }
            words.removeFirst()
            if let first = words.first, first.hasPrefix("[") {
                // Options run to the word that closes the bracket.
                while let word = words.first {
                    words.removeFirst()
                    if word.hasSuffix("]") { break }
                }
            }
            guard words.count >= 2, words[1] == suite else { continue }
            urls.append(words[0])
        }
        return urls
    }

    /// deb822 stanzas: `Types`, `URIs`, `Suites`, `Enabled`.
    static func deb822(_ text: String, suite: String) -> [String] {
        var urls: [String] = []
        // Comment lines may sit inside a stanza; apt drops them before parsing.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }
        var stanza: [String: String] = [:]
        var last: String?
        func finish() {
            defer { stanza = [:]; last = nil }
            let words = { (key: String) in (stanza[key] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init) }
            guard words("Types").contains("deb"), words("Suites").contains(suite),
                  (stanza["Enabled"] ?? "yes").trimmingSpaces.lowercased() != "no" else { return }
            urls += words("URIs")
        }
        for line in lines {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { finish(); continue }
            if line.first == " " || line.first == "\t" {
                if let last { stanza[last, default: ""] += "\n" + line }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            stanza[key] = String(line[line.index(after: colon)...])
            last = key
        }
        finish()
        return urls
    }

    /// A file apt would read, as text; nil when it is missing or unreadable (apt skips those too).
    static func readText(_ path: String) -> String? {
        guard let bytes = try? HostFile.read(path, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names in `path` that do not start with a dot (apt ignores those); none when it cannot be listed.
    static func directoryEntries(_ path: String) -> [String] {
        ((try? Directory.names(path)) ?? []).filter { !$0.hasPrefix(".") }
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let c = view.first, c == " " || c == "\t" || c == "\n" { view.removeFirst() }
        while let c = view.last, c == " " || c == "\t" || c == "\n" { view.removeLast() }
        return String(view)
    }
}

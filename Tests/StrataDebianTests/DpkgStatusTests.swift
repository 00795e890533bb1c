import Foundation
import Testing
@testable import StrataDebian

/// `DpkgStatus.render` against expected text, dpkg-query, and the host's own status file
/// (written by dpkg: every paragraph must come out byte for byte).
@Suite struct DpkgStatusTests {
    static func entry(_ control: String, conffiles: [DpkgConffile] = []) throws -> DpkgStatusEntry {
        let paragraphs = try ControlFile.parse(Array(control.utf8))
        return try DpkgStatusEntry(control: paragraphs[0], conffiles: conffiles)
    }

    static let tool = """
        Homepage: https://strata.invalid/tool
        Description: a tool
         with a long description
         .
           and an indented line
        Package: tool
        X-Custom: first
        Depends: libc6(>=2.36) ,libtool1 |  libtool-alt, python3:any
        Version: 0:1.0-1
        Status: purge ok not-installed
        Architecture: amd64
        Essential: yes
        Multi-Arch: foreign
        Maintainer: Strata Tests <tests@strata.invalid>
        Pre-Depends: dpkg (>= 1:1.21.0)
        Priority: optional
        Provides: tool-virtual (= 1.0)
        Section: utils
        Installed-Size: 42
        Breaks: old-tool (<< 0.9)
        Conflicts: other-tool
        Replaces: old-tool (<< 0.9)
        Recommends: tool-data
        Suggests: tool-doc
        Enhances: shell
        Source: tool-src (1.0-1)
        Protected: no
        Built-Using: gcc-12 (= 12.2.0-14)
        X-Last: last

        """

    @Test func rendersFieldsInDpkgsOrder() throws {
        let conffiles = [DpkgConffile(path: "/etc/tool.conf", hash: "0123456789abcdef0123456789abcdef"),
                         DpkgConffile(path: "/etc/tool.old", hash: DpkgConffile.newConffileHash, flags: ["remove-on-upgrade"])]
        let tool = try Self.entry(Self.tool, conffiles: conffiles)
        #expect(tool.package == "tool" && tool.version == "1.0-1" && tool.architecture == "amd64" && tool.multiArch == "foreign")
        let libA = try Self.entry("Package: libtool1\nVersion: 2\nArchitecture: i386\nMulti-Arch: same\nMaintainer: m\nDescription: lib\n")
        let libB = try Self.entry("Package: libtool1\nVersion: 2\nArchitecture: amd64\nMulti-Arch: same\nMaintainer: m\nDescription: lib\n")
        let rendered = String(decoding: DpkgStatus.render([tool, libA, libB]), as: UTF8.self)
        #expect(rendered == """
            Package: libtool1
            Status: install ok unpacked
            Maintainer: m
            Architecture: amd64
            Multi-Arch: same
            Version: 2
            Description: lib

            Package: libtool1
            Status: install ok unpacked
            Maintainer: m
            Architecture: i386
            Multi-Arch: same
            Version: 2
            Description: lib

            Package: tool
            Essential: yes
            Status: install ok unpacked
            Priority: optional
            Section: utils
            Installed-Size: 42
            Maintainer: Strata Tests <tests@strata.invalid>
            Architecture: amd64
            Multi-Arch: foreign
            Source: tool-src (1.0-1)
            Version: 1.0-1
            Replaces: old-tool (<< 0.9)
            Provides: tool-virtual (= 1.0)
            Depends: libc6 (>= 2.36), libtool1 | libtool-alt, python3:any
            Pre-Depends: dpkg (>= 1:1.21.0)
            Recommends: tool-data
            Suggests: tool-doc
            Breaks: old-tool (<< 0.9)
            Conflicts: other-tool
            Enhances: shell
            Conffiles:
             /etc/tool.conf 0123456789abcdef0123456789abcdef
             /etc/tool.old newconffile remove-on-upgrade
            Description: a tool
             with a long description
             .
               and an indented line
            Homepage: https://strata.invalid/tool
            X-Custom: first
            Built-Using: gcc-12 (= 12.2.0-14)
            X-Last: last


            """)
        #expect(DpkgStatus.render([libB, tool, libA]) == DpkgStatus.render([tool, libA, libB]), "order-independent")
        #expect(String(decoding: DpkgStatus.render([libB], status: DpkgStatus.installed), as: UTF8.self)
            .contains("\nStatus: install ok installed\n"))
    }

    @Test func refusesWhatDpkgWouldRefuse() throws {
        #expect(throws: ControlFileError.missingField("Version", package: "p", line: 1)) {
            try Self.entry("Package: p\nArchitecture: all\n")
        }
        #expect(throws: ControlFileError.missingField("Architecture", package: "p", line: 1)) {
            try Self.entry("Package: p\nVersion: 1\n")
        }
        #expect(throws: ControlFileError.invalidValue(field: "Package", value: "../p", package: "../p", line: 1)) {
            try Self.entry("Package: ../p\nVersion: 1\nArchitecture: all\n")
        }
        #expect(throws: ControlFileError.invalidValue(field: "Architecture", value: "amd64/x", package: "p", line: 3)) {
            try Self.entry("Package: p\nVersion: 1\nArchitecture: amd64/x\n")
        }
        #expect(throws: ControlFileError.invalidValue(field: "Version", value: "x1", package: "p", line: 2)) {
            try Self.entry("Package: p\nVersion: x1\nArchitecture: all\n")
        }
        #expect(throws: ControlFileError.invalidValue(field: "Depends", value: "a (>>", package: "p", line: 4)) {
            try Self.entry("Package: p\nVersion: 1\nArchitecture: all\nDepends: a (>>\n")
        }
    }

    /// A status file we render, read by dpkg-query from an admin directory of our making.
    @Test func dpkgQueryReadsTheRenderedStatus() throws {
        let dir = try DebPackageTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["info", "updates", "triggers"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
        _ = FileManager.default.createFile(atPath: "\(dir)/available", contents: Data())
        let entries = [
            try Self.entry(Self.tool, conffiles: [DpkgConffile(path: "/etc/tool.conf", hash: "0123456789abcdef0123456789abcdef")]),
            try Self.entry("Package: libtool1\nVersion: 2\nArchitecture: amd64\nMulti-Arch: same\nMaintainer: m\nDescription: lib\n"),
        ]
        _ = FileManager.default.createFile(atPath: "\(dir)/status", contents: Data(DpkgStatus.render(entries)))
        let format = "${binary:Package} ${Version} ${Status} ${Conffiles}\\n"
        let out = String(decoding: try DebPackageTests.shell(
            "dpkg-query --admindir=\(DebPackageTests.quote(dir)) -W -f='\(format)' 2>&1"), as: UTF8.self)
        #expect(out == """
            libtool1:amd64 2 install ok unpacked\u{20}
            tool 1.0-1 install ok unpacked  /etc/tool.conf 0123456789abcdef0123456789abcdef

            """)
        // `dpkg --audit` reads the same database and names the unpacked packages.
        let audit = String(decoding: try DebPackageTests.shell(
            "dpkg --admindir=\(DebPackageTests.quote(dir)) --audit 2>&1 || true"), as: UTF8.self)
        #expect(audit.contains("tool"))
    }

    /// Every paragraph of the host's dpkg status comes out of `render` byte for byte: the
    /// field order, the dropped fields and the canonical spellings are dpkg's.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/var/lib/dpkg/status")))
    func reproducesTheHostStatusFile() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "/var/lib/dpkg/status")))
        let text = String(decoding: bytes, as: UTF8.self)
        let originals = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { $0 + "\n\n" }
        let paragraphs = try ControlFile.parse(bytes)
        #expect(paragraphs.count == originals.count)
        var checked = 0
        for (paragraph, original) in zip(paragraphs, originals) {
            let conffiles = try (paragraph.field("Conffiles")?.lines(in: paragraph) ?? []).map { line -> DpkgConffile in
                let words = line.split(separator: " ").map(String.init)
                return DpkgConffile(path: words[0], hash: words[1], flags: Array(words.dropFirst(2)))
            }
            let entry = try DpkgStatusEntry(control: paragraph, conffiles: conffiles)
            let status = try #require(paragraph["Status"])
            let rendered = String(decoding: DpkgStatus.paragraph(entry, status: status), as: UTF8.self)
            #expect(rendered == original)
            if rendered != original { break }
            checked += 1
        }
        #expect(checked == originals.count)
    }
}

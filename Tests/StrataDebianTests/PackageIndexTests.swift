import Testing
import StrataModel
@testable import StrataDebian

@Suite struct PackageIndexTests {
    static let sample = """
        Package: libc6
        Source: glibc
        Version: 2.36-9+deb12u10
        Installed-Size: 12985
        Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
        Architecture: amd64
        Multi-Arch: same
        Replaces: libc6-amd64
        Depends: libgcc-s1
        Recommends: libidn2-0 (>= 2.0.5~)
        Suggests: glibc-doc, debconf | debconf-2.0, libc-l10n, locales, libnss-nis, libnss-nisplus
        Breaks: aide (<< 0.17.3-4+b3), busybox (<< 1.30.1-6),
         python3-iptables (<< 1.0.2-2)
        Conflicts: openrc (<< 0.27-2~)
        Description: GNU C Library: Shared libraries
        Description-md5: fc3001b0b90a1c8e6690b283a619d57f
        Tag: role::shared-lib
        Section: libs
        Priority: optional
        Filename: pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb
        Size: 2758148
        MD5sum: 0c4a1c7b8d2b36a1d0c0b6bb9c4f2b0a
        SHA256: 5b0c7d5e0b5d3d3c7d6c5b1b2f1b4c8e9a0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f

        Package: dpkg
        Version: 1.21.22
        Architecture: amd64
        Essential: yes
        Priority: required
        Pre-Depends: libbz2-1.0, libc6 (>= 2.34), liblzma5 (>= 5.4.0), libmd0 (>= 0.0.0), libselinux1 (>= 3.1~), libzstd1 (>= 1.5.2), zlib1g (>= 1:1.1.4)
        Depends: tar (>= 1.28-1)
        Filename: pool/main/d/dpkg/dpkg_1.21.22_amd64.deb
        Size: 1541208
        SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

        Package: mawk
        Version: 1.3.4.20200120-3.1
        Architecture: amd64
        Multi-Arch: foreign
        Priority: required
        Provides: awk
        Filename: pool/main/m/mawk/mawk_1.3.4.20200120-3.1_amd64.deb
        Size: 133820
        SHA256: fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210

        Package: libc6
        Version: 2.36-9+deb12u9
        Architecture: i386
        Multi-Arch: same
        Filename: pool/main/g/glibc/libc6_2.36-9+deb12u9_i386.deb
        Size: 2612345
        SHA256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        """

    @Test func allFieldsOfASample() throws {
        let index = try PackageIndex(parsing: Array(Self.sample.utf8))
        #expect(index.records.count == 4)
        let libc = index.records[0]
        #expect(libc.name == "libc6")
        #expect(libc.version == "2.36-9+deb12u10")
        #expect(libc.architecture == "amd64")
        #expect(libc.multiArch == .same)
        #expect(libc.isEssential == false)
        #expect(libc.priority == "optional")
        #expect(libc.depends == "libgcc-s1")
        #expect(libc.preDepends == nil)
        #expect(libc.recommends == "libidn2-0 (>= 2.0.5~)")
        #expect(libc.conflicts == "openrc (<< 0.27-2~)")
        #expect(libc.breaks == "aide (<< 0.17.3-4+b3), busybox (<< 1.30.1-6),\npython3-iptables (<< 1.0.2-2)")
        #expect(libc.provides == nil)
        #expect(libc.filename == "pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb")
        #expect(libc.size == 2_758_148)
        #expect(libc.sha256 == (try Digest(hex: "5b0c7d5e0b5d3d3c7d6c5b1b2f1b4c8e9a0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f")))
        #expect(libc.line == 1)

        let dpkg = index.records[1]
        #expect(dpkg.isEssential)
        #expect(dpkg.priority == "required")
        #expect(dpkg.multiArch == .no)
        #expect(dpkg.preDepends?.hasPrefix("libbz2-1.0, libc6 (>= 2.34)") == true)
        #expect(dpkg.depends == "tar (>= 1.28-1)")
        #expect(dpkg.line == 25)

        let mawk = index.records[2]
        #expect(mawk.multiArch == .foreign)
        #expect(mawk.provides == "awk")
    }

    @Test func indexByName() throws {
        let index = try PackageIndex(parsing: Array(Self.sample.utf8))
        #expect(index.byName["libc6"] == [0, 3])
        #expect(index.records(named: "libc6").map(\.architecture) == ["amd64", "i386"])
        #expect(index.records(named: "mawk").map(\.version) == ["1.3.4.20200120-3.1"])
        #expect(index.records(named: "awk").isEmpty)
    }

    @Test func unsafeBufferInputGivesTheSameRecords() throws {
        let bytes = Array(Self.sample.utf8)
        let a = try PackageIndex(parsing: bytes)
        let b = try bytes.withUnsafeBytes { raw throws(ControlFileError) in try PackageIndex(parsing: raw) }
        #expect(a.records == b.records)
    }

    @Test func missingMandatoryFieldNamesPackageAndLine() {
        let text = """
            Package: fine
            Version: 1
            Architecture: all
            Filename: pool/f.deb
            Size: 1
            SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

            Package: broken
            Version: 1
            Architecture: all
            Size: 1
            SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            """
        #expect(throws: ControlFileError.missingField("Filename", package: "broken", line: 8)) {
            try PackageIndex(parsing: Array(text.utf8))
        }
        #expect(throws: ControlFileError.missingField("Package", package: nil, line: 1)) {
            try PackageIndex(parsing: Array("Version: 1\nArchitecture: all\n".utf8))
        }
    }

    @Test func invalidValuesNameFieldPackageAndLine() {
        let base = "Package: p\nVersion: 1\nArchitecture: all\nFilename: pool/p.deb\n"
        let hex = String(repeating: "0", count: 64)
        #expect(throws: ControlFileError.invalidValue(field: "Size", value: "12k", package: "p", line: 5)) {
            try PackageIndex(parsing: Array((base + "Size: 12k\nSHA256: \(hex)\n").utf8))
        }
        #expect(throws: ControlFileError.invalidValue(field: "SHA256", value: hex.uppercased() + "A", package: "p", line: 6)) {
            try PackageIndex(parsing: Array((base + "Size: 1\nSHA256: \(hex.uppercased())A\n").utf8))
        }
        #expect(throws: ControlFileError.invalidValue(field: "Multi-Arch", value: "sometimes", package: "p", line: 7)) {
            try PackageIndex(parsing: Array((base + "Size: 1\nSHA256: \(hex)\nMulti-Arch: sometimes\n").utf8))
        }
        #expect(throws: ControlFileError.duplicateField("Size", line: 6)) {
            try PackageIndex(parsing: Array((base + "Size: 1\nSize: 2\nSHA256: \(hex)\n").utf8))
        }
    }

    /// Past `parallelThreshold` the index is parsed in chunks: records, lines and errors
    /// must come out as from one pass.
    @Test func bigIndexParsedInChunks() throws {
        var text = ""
        var i = 0
        while text.utf8.count < PackageIndex.parallelThreshold + (1 << 20) {
            text += "Package: pkg\(i)\nVersion: 1.\(i)\nArchitecture: amd64\nDescription: x\n \(String(repeating: "y", count: 200))\n"
            text += "Filename: pool/main/p/pkg\(i).deb\nSize: \(i)\nSHA256: \(String(repeating: "ab", count: 32))\n\n"
            i += 1
        }
        let index = try PackageIndex(parsing: Array(text.utf8))
        #expect(index.records.count == i)
        #expect(index.records.enumerated().allSatisfy { $0.element.name == "pkg\($0.offset)" && $0.element.line == $0.offset * 9 + 1 })
        // A broken stanza near the end: its line is counted across chunks.
        let broken = text + "Package: last\nVersion: 1\n"
        #expect(throws: ControlFileError.missingField("Architecture", package: "last", line: i * 9 + 1)) {
            try PackageIndex(parsing: Array(broken.utf8))
        }
        let syntax = text + "Package: last\nno colon\n"
        #expect(throws: ControlFileError.missingColon(line: i * 9 + 2)) { try PackageIndex(parsing: Array(syntax.utf8)) }
    }

    @Test func manyStanzas() throws {
        // Shape of a real index: a few thousand stanzas, CRLF-free, names repeated per arch.
        var text = ""
        for i in 0..<5_000 {
            text += "Package: pkg\(i % 2_500)\nVersion: 1.\(i)\nArchitecture: \(i < 2_500 ? "amd64" : "all")\n"
            text += "Depends: libc6 (>= 2.34), pkg\(i + 1)\nFilename: pool/main/p/pkg\(i).deb\nSize: \(i)\n"
            text += "SHA256: \(String(repeating: "ab", count: 32))\n\n"
        }
        let index = try PackageIndex(parsing: Array(text.utf8))
        #expect(index.records.count == 5_000)
        #expect(index.byName.count == 2_500)
        #expect(index.records(named: "pkg7").map(\.version) == ["1.7", "1.2507"])
        #expect(index.records[4_999].line == 4_999 * 8 + 1)
    }
}

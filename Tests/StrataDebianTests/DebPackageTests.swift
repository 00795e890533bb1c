import Foundation
import StrataOS
import Testing
import StrataModel
@testable import StrataDebian

/// `DebPackage` against dpkg-deb's own reading of the generated archive's `.deb`s, and
/// against hand-made broken ones.
@Suite struct DebPackageTests {
    /// Every `.deb` under the generated archive's pool, sorted.
    static func debs() throws -> [String] {
        let pool = try GeneratedDebianArchive.path("pool")
        let found = FileManager.default.enumerator(atPath: pool)?.compactMap { $0 as? String } ?? []
        return found.filter { $0.hasSuffix(".deb") }.sorted().map { pool + "/" + $0 }
    }

    /// Runs `command` with /bin/sh; its stdout, or a failure naming the command.
    static func shell(_ command: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GeneratedDebianArchive.Failure(description: "`\(command)` exited \(process.terminationStatus)")
        }
        return data
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-deb-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func readsEveryGeneratedDeb() throws {
        let debs = try Self.debs()
        #expect(debs.count == 14)
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (index, deb) in debs.enumerated() {
            let destination = "\(dir)/data-\(index)"
            let package = try DebPackage.read(path: deb, copyingDataTo: destination)
            #expect(package.path == deb)
            #expect(package.formatVersion == "2.0")
            #expect(package.controlMember == "control.tar.xz")
            #expect(package.controlCompression == .xz)
            #expect(package.data.name == "data.tar.xz")
            #expect(package.data.compression == .xz)
            #expect(package.data.destination == destination)

            // control: the same fields, in the same order, as dpkg-deb prints.
            let printed = try ControlFile.parse(Array(Self.shell("dpkg-deb --field \(Self.quote(deb))")))
            #expect(printed.count == 1)
            #expect(package.control.names == printed[0].names, "\(deb)")
            for name in printed[0].names {
                #expect(package.control[name] == printed[0][name], "\(deb): \(name)")
            }

            // The control tarball's files: byte for byte what dpkg-deb --ctrl-tarfile holds.
            let controlDir = "\(dir)/control-\(index)"
            try FileManager.default.createDirectory(atPath: controlDir, withIntermediateDirectories: true)
            _ = try Self.shell("dpkg-deb --ctrl-tarfile \(Self.quote(deb)) | tar -x -C \(Self.quote(controlDir))")
            let names = try FileManager.default.contentsOfDirectory(atPath: controlDir).sorted()
            #expect(package.controlFiles.keys.sorted() == names, "\(deb)")
            for name in names {
                let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(controlDir)/\(name)")))
                #expect(package.controlFiles[name] == bytes, "\(deb): \(name)")
                if let script = MaintainerScript(rawValue: name) { #expect(package.scripts[script] == bytes, "\(deb): \(name)") }
            }
            #expect(package.scripts.count == names.filter { MaintainerScript(rawValue: $0) != nil }.count)
            let md5sums = names.contains("md5sums")
                ? String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(controlDir)/md5sums")), as: UTF8.self)
                    .split(separator: "\n").map { line in
                        DebFileChecksum(md5: String(line.prefix(32)), path: String(line.dropFirst(34)))
                    }
                : []
            #expect(package.md5sums == md5sums, "\(deb)")
            let conffiles = names.contains("conffiles")
                ? String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(controlDir)/conffiles")), as: UTF8.self)
                    .split(separator: "\n").map(String.init)
                : []
            #expect(package.conffiles == conffiles, "\(deb)")

            // The data member copied out: same size and the same paths as dpkg-deb's fsys tarball.
            let attributes = try FileManager.default.attributesOfItem(atPath: destination)
            #expect((attributes[.size] as? NSNumber)?.int64Value == package.data.size)
            let copied = String(decoding: try Self.shell("tar -tJf \(Self.quote(destination))"), as: UTF8.self)
            let expected = String(decoding: try Self.shell("dpkg-deb --fsys-tarfile \(Self.quote(deb)) | tar -t"), as: UTF8.self)
            #expect(copied == expected, "\(deb)")
            #expect(!copied.isEmpty)
        }
    }

    @Test func exposesScriptsAndFields() throws {
        let deb = try #require(try Self.debs().first { $0.hasSuffix("/dash_0.5.12-2_amd64.deb") })
        let package = try DebPackage.read(path: deb)
        #expect(package.data.destination == nil)
        #expect(package.control["Package"] == "dash")
        #expect(package.control["Pre-Depends"] == "libc6 (>= 2.34)")
        #expect(package.scripts[.postinst] == Array("#!/bin/sh\nset -e\n[ \"$1\" = configure ] || exit 0\nln -sf dash /usr/bin/sh\n".utf8))
        #expect(package.scripts[.preinst] == Array("#!/bin/sh\nset -e\nexit 0\n".utf8))
        #expect(package.scripts[.prerm] == nil)
        #expect(package.md5sums.isEmpty)  // dpkg-deb --build writes none; see readsMD5SumsAndConffiles
    }

    /// A `.deb` with `md5sums` and `conffiles`, built by dpkg-deb with each compression it offers.
    @Test(arguments: [("xz", DebCompression.xz, ".xz"), ("gzip", .gzip, ".gz"), ("zstd", .zstd, ".zst"), ("none", .none, "")])
    func readsMD5SumsAndConffiles(_ option: String, _ compression: DebCompression, _ suffix: String) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = "\(dir)/root"
        try FileManager.default.createDirectory(atPath: "\(root)/DEBIAN", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/usr/bin", withIntermediateDirectories: true)
        try Data("setting = 1\n".utf8).write(to: URL(fileURLWithPath: "\(root)/etc/tool.conf"))
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: "\(root)/usr/bin/tool"))
        try Data("Package: conf-tool\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@strata.invalid>\nDescription: test\n x\n".utf8)
            .write(to: URL(fileURLWithPath: "\(root)/DEBIAN/control"))
        try Data("/etc/tool.conf\n".utf8).write(to: URL(fileURLWithPath: "\(root)/DEBIAN/conffiles"))
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: "\(root)/DEBIAN/prerm"))
        _ = try Self.shell("chmod 755 \(Self.quote(root))/DEBIAN/prerm && cd \(Self.quote(root)) && md5sum etc/tool.conf usr/bin/tool > DEBIAN/md5sums")
        let deb = "\(dir)/conf-tool.deb"
        _ = try Self.shell("dpkg-deb --root-owner-group -Z\(option) --build \(Self.quote(root)) \(Self.quote(deb)) >/dev/null")

        let package = try DebPackage.read(path: deb, copyingDataTo: "\(dir)/data")
        #expect(package.controlMember == "control.tar" + suffix)
        #expect(package.controlCompression == compression)
        #expect(package.data.name == "data.tar" + suffix)
        #expect(package.data.compression == compression)
        #expect(package.control["Package"] == "conf-tool")
        #expect(package.conffiles == ["/etc/tool.conf"])
        let md5 = String(decoding: try Self.shell("cd \(Self.quote(root)) && md5sum etc/tool.conf usr/bin/tool"), as: UTF8.self)
            .split(separator: "\n").map { DebFileChecksum(md5: String($0.prefix(32)), path: String($0.dropFirst(34))) }
        #expect(package.md5sums == md5)
        #expect(package.md5sums.map(\.path) == ["etc/tool.conf", "usr/bin/tool"])
        #expect(package.scripts == [.prerm: Array("#!/bin/sh\nexit 0\n".utf8)])
        let copied = String(decoding: try Self.shell("tar -tf \(Self.quote(dir))/data"), as: UTF8.self)
        let expected = String(decoding: try Self.shell("dpkg-deb --fsys-tarfile \(Self.quote(deb)) | tar -t"), as: UTF8.self)
        #expect(copied == expected)
    }

    @Test func refusesMalformedMD5Sums() {
        #expect(throws: DebPackageError.malformedControlFile(path: "p", file: "md5sums", line: 2,
                                                             reason: "expected 32 lowercase hex digits, two spaces and a path")) {
            try DebPackage.parseMD5Sums(Array("0123456789abcdef0123456789abcdef  a\nnot a sum\n".utf8), path: "p")
        }
    }

    // MARK: - Broken inputs

    /// A parsed `ar` archive: (name, bytes) members.
    static func arMembers(_ bytes: [UInt8]) -> [(String, [UInt8])] {
        var members: [(String, [UInt8])] = []
        var offset = 8
        while offset + 60 <= bytes.count {
            let header = bytes[offset..<offset + 60]
            let name = String(decoding: header.prefix(16), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let size = Int(String(decoding: header.dropFirst(48).prefix(10), as: UTF8.self).trimmingCharacters(in: .whitespaces))!
            members.append((name.hasSuffix("/") ? String(name.dropLast()) : name, Array(bytes[offset + 60..<offset + 60 + size])))
            offset += 60 + size + size % 2
        }
        return members
    }

    /// An `ar` archive of `members`, as dpkg-deb writes one.
    static func arArchive(_ members: [(String, [UInt8])]) -> [UInt8] {
        var out = Array("!<arch>\n".utf8)
        func field(_ s: String, _ width: Int) -> [UInt8] { Array(s.utf8) + Array(repeating: 0x20, count: width - s.utf8.count) }
        for (name, bytes) in members {
            out += field(name, 16) + field("0", 12) + field("0", 6) + field("0", 6) + field("100644", 8)
                + field(String(bytes.count), 10) + Array("`\n".utf8)
            out += bytes
            if bytes.count % 2 == 1 { out.append(0x0A) }
        }
        return out
    }

    static func sampleDeb() throws -> [UInt8] {
        let deb = try #require(try debs().first { $0.hasSuffix("/dash_0.5.12-2_amd64.deb") })
        return try HostFile.read(deb)
    }

    /// Writes `bytes` to a new file in a fresh directory; the directory is the caller's to remove.
    static func write(_ bytes: [UInt8], name: String) throws -> (dir: String, path: String) {
        let dir = try temporaryDirectory()
        let path = "\(dir)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (dir, path)
    }

    @Test func theSampleRoundTripsThroughTheTestArWriter() throws {
        let members = try Self.arMembers(Self.sampleDeb())
        #expect(members.map(\.0) == ["debian-binary", "control.tar.xz", "data.tar.xz"])
        let (dir, path) = try Self.write(Self.arArchive(members), name: "same.deb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try DebPackage.read(path: path).control["Package"] == "dash")
    }

    @Test func refusesATarRenamedDeb() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deb = try #require(try Self.debs().first)
        let path = "\(dir)/fake.deb"
        _ = try Self.shell("dpkg-deb --fsys-tarfile \(Self.quote(deb)) > \(Self.quote(path))")
        do throws(DebPackageError) {
            _ = try DebPackage.read(path: path, copyingDataTo: "\(dir)/data")
            Issue.record("a tar file was read as a .deb")
        } catch {
            guard case .notAnArArchive(let p, _) = error else { Issue.record("expected notAnArArchive, got \(error)"); return }
            #expect(p == path)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/data"))
    }

    @Test func refusesMembersOutOfOrder() throws {
        let m = try Self.arMembers(Self.sampleDeb())
        let cases: [([(String, [UInt8])], (String) -> DebPackageError)] = [
            ([m[1], m[0], m[2]], { .unexpectedMember(path: $0, member: "control.tar.xz", expected: "debian-binary") }),
            ([m[0], m[2], m[1]], { .unexpectedMember(path: $0, member: "data.tar.xz", expected: "control.tar[.gz|.xz|.zst]") }),
            ([m[0], m[1], ("data.tar.lzma", m[2].1)],
             { .unexpectedMember(path: $0, member: "data.tar.lzma", expected: "data.tar[.gz|.xz|.zst|.bz2]") }),
            ([m[0], m[1], m[2], ("_extra", [1])], { .unexpectedMember(path: $0, member: "_extra", expected: "end of archive") }),
            ([m[0], m[1]], { .missingMember(path: $0, expected: "data.tar[.gz|.xz|.zst|.bz2]") }),
            ([m[0]], { .missingMember(path: $0, expected: "control.tar[.gz|.xz|.zst]") }),
        ]
        for (members, expected) in cases {
            let (dir, path) = try Self.write(Self.arArchive(members), name: "bad.deb")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            #expect(throws: expected(path)) { try DebPackage.read(path: path, copyingDataTo: "\(dir)/data") }
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/data"))
        }
    }

    @Test func refusesTrailingGarbage() throws {
        let (dir, path) = try Self.write(try Self.sampleDeb() + Array("junk".utf8), name: "junk.deb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do throws(DebPackageError) {
            _ = try DebPackage.read(path: path, copyingDataTo: "\(dir)/data")
            Issue.record("trailing garbage was accepted")
        } catch {
            guard case .corrupt(let p, nil, _) = error else { Issue.record("expected corrupt, got \(error)"); return }
            #expect(p == path)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/data"))
    }

    @Test func refusesATruncatedDeb() throws {
        let bytes = try Self.sampleDeb()
        // Inside the data member, inside the control member, and inside a member header.
        let members = Self.arMembers(bytes)
        let controlEnd = 8 + 60 + members[0].1.count + members[0].1.count % 2 + 60 + members[1].1.count
        for length in [bytes.count - 100, controlEnd - 10, 8 + 60 + 4 + 30] {
            let (dir, path) = try Self.write(Array(bytes.prefix(length)), name: "short.deb")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            do throws(DebPackageError) {
                _ = try DebPackage.read(path: path, copyingDataTo: "\(dir)/data")
                Issue.record("a truncated .deb (\(length) of \(bytes.count) bytes) was read")
            } catch {
                guard case .corrupt(let p, _, _) = error else { Issue.record("expected corrupt, got \(error)"); continue }
                #expect(p == path)
            }
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/data"))
        }
    }

    @Test func refusesFormatVersion3() throws {
        var m = try Self.arMembers(Self.sampleDeb())
        m[0].1 = Array("3.0\n".utf8)
        let (dir, path) = try Self.write(Self.arArchive(m), name: "v3.deb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: DebPackageError.unsupportedFormatVersion(path: path, version: "3.0")) {
            try DebPackage.read(path: path, copyingDataTo: "\(dir)/data")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/data"))
        // 2.x other than 2.0 is accepted, as dpkg does.
        m[0].1 = Array("2.1\n".utf8)
        let (dir2, path2) = try Self.write(Self.arArchive(m), name: "v21.deb")
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        #expect(try DebPackage.read(path: path2).formatVersion == "2.1")
    }

    @Test func refusesAnExistingDestination() throws {
        let deb = try #require(try Self.debs().first)
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let destination = "\(dir)/exists"
        _ = FileManager.default.createFile(atPath: destination, contents: Data([1]))
        #expect(throws: DebPackageError.cannotWrite(path: deb, destination: destination, errno: EEXIST)) {
            try DebPackage.read(path: deb, copyingDataTo: destination)
        }
    }

    @Test func capsTheControlTarball() throws {
        let deb = try #require(try Self.debs().first)
        #expect(throws: DebPackageError.tooLarge(path: deb, member: "control.tar.xz", limit: 100)) {
            try DebPackage.read(path: deb, limits: .init(controlBytes: 100))
        }
    }
}

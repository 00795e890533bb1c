import Glibc
import Testing
import StrataOS

@Suite("File operations")
struct FileSystemTests {
    @Test("an atomic write through another directory leaves nothing beside the file")
    func atomicWriteThroughTemporaryDirectory() throws {
        try withTemporaryDirectory { directory in
            try FileSystem.makeDirectory(directory + "/layout", mode: 0o700)
            try FileSystem.makeDirectory(directory + "/tmp", mode: 0o700)
            let path = directory + "/layout/index.json"
            try HostFile.writeAtomically(Array("one".utf8), to: path, temporaryDirectory: directory + "/tmp")
            try HostFile.writeAtomically(Array("two".utf8), to: path, temporaryDirectory: directory + "/tmp", mode: 0o600)
            #expect(try HostFile.read(path) == Array("two".utf8))
            #expect(entries(directory + "/layout") == ["index.json"])
            #expect(entries(directory + "/tmp").isEmpty)
            #expect(mode(path) == 0o600)
        }
    }

    @Test("without a temporary directory the write goes through a hidden file beside it")
    func atomicWriteBeside() throws {
        try withTemporaryDirectory { directory in
            try HostFile.writeAtomically([1, 2], to: directory + "/file")
            #expect(entries(directory) == ["file"])
            #expect(throws: SystemError.self) { try HostFile.writeAtomically([1], to: directory + "/missing/file") }
        }
    }

    @Test("directories get exactly the mode asked for, whatever the umask")
    func modes() throws {
        try withTemporaryDirectory { directory in
            let old = umask(0o077)
            defer { umask(old) }
            #expect(try FileSystem.makeDirectory(directory + "/a", mode: 0o755))
            #expect(try !FileSystem.makeDirectory(directory + "/a", mode: 0o755))
            try FileSystem.makeDirectories(directory + "/b/c/d", mode: 0o700)
            try FileSystem.createFile(directory + "/f", contents: [1], mode: 0o644)
            #expect(mode(directory + "/a") == 0o755)
            #expect(mode(directory + "/b/c") == 0o700)
            #expect(mode(directory + "/f") == 0o644)
            #expect(throws: SystemError.self) { try FileSystem.createFile(directory + "/f", contents: [2], mode: 0o644) }
            #expect(readBytes(directory + "/f") == [1])
        }
    }

    @Test("listings keep names that are not UTF-8, and say what failed")
    func listings() throws {
        try withTemporaryDirectory { directory in
            let raw: [CChar] = Array((directory + "/").utf8CString.dropLast()) + [CChar(bitPattern: 0xff), 0x61, 0]
            let fd = open(raw, O_WRONLY | O_CREAT, 0o644)
            close(fd)
            try FileSystem.makeDirectory(directory + "/sub", mode: 0o755)
            let listed = try Directory.entries(directory)
            #expect(listed.count == 2)
            #expect(listed.contains { $0.rawName == [CChar(bitPattern: 0xff), 0x61, 0] })
            #expect(listed.first { $0.name == "sub" }?.isDirectory == true)
            let root = try FileDescriptor.openDirectory(directory)
            #expect(try Directory.names(fd: root.raw, display: directory).sorted() == listed.map(\.name).sorted())
            #expect(!Directory.isEmpty(directory))
            #expect(Directory.isEmpty(directory + "/sub"))
            #expect {
                _ = try Directory.names(directory + "/missing")
            } throws: { error in
                let failure = error as? SystemError
                return failure?.isMissing == true && failure?.description == "\(directory)/missing: opendir: No such file or directory"
            }
        }
    }
}

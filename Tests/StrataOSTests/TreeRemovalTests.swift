import Foundation
import Glibc
import Testing
import StrataOS

@Suite("Tree removal")
struct TreeRemovalTests {
    @Test("a missing path is not an error; a file or a symlink is removed itself")
    func simpleCases() throws {
        try withTemporaryDirectory { directory in
            try FileSystem.removeTree(directory + "/missing")
            try writeFile(directory + "/target", [1])
            symlink(directory + "/target", directory + "/link")
            try FileSystem.removeTree(directory + "/link")
            #expect(readBytes(directory + "/target") == [1])
            try FileSystem.removeTree(directory + "/target")
            #expect(entries(directory).isEmpty)
        }
    }

    @Test("a mount point is refused, at the top or inside, and its contents survive")
    func mountPoints() throws {
        try withTemporaryDirectory { directory in
            let tree = directory + "/tree"
            try FileManager.default.createDirectory(atPath: tree + "/mnt", withIntermediateDirectories: true)
            #expect(mount("tmpfs", tree + "/mnt", "tmpfs", 0, nil) == 0)
            defer { umount(tree + "/mnt") }
            try writeFile(tree + "/mnt/inside", [1])
            #expect(throws: SystemError.self) { try FileSystem.removeTree(tree) }
            #expect(throws: SystemError.self) { try FileSystem.removeTree(tree + "/mnt") }
            #expect(readBytes(tree + "/mnt/inside") == [1])
        }
    }
}

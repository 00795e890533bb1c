import Glibc
import StrataOS

/// A new directory under /tmp holding `files` (relative path → text), as a test's home.
func temporaryHome(_ files: [String: String]) throws -> String {
    var template = Array("/tmp/strata-registry-test.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", path: "/tmp") }
    let home = String(cString: made)
    for (path, text) in files {
        try FileSystem.makeDirectories(FileSystem.parent(of: home + "/" + path), mode: 0o700)
        try FileSystem.createFile(home + "/" + path, contents: Array(text.utf8), mode: 0o600)
    }
    return home
}

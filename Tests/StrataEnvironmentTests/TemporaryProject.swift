import Foundation
import StrataOS

/// A directory with `envs/app.json`, removed when it goes away.
final class TemporaryProject {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "strata-environment-test-" + UUID().uuidString.prefix(8).lowercased()
        try FileSystem.makeDirectories(directory + "/envs", mode: 0o755)
        try HostFile.writeAtomically(Array("{}".utf8), to: directory + "/envs/app.json")
    }

    deinit { try? FileSystem.removeTree(directory) }
}

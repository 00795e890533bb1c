import Glibc

/// Where an environment's manifest and lockfile live.
///
/// `ENV` on the command line is a manifest path, or a bare `NAME` meaning
/// `envs/NAME.json` under the current directory. The lockfile of
/// `DIR/envs/NAME.json` is `DIR/lockfiles/NAME.lock.json`; a manifest outside an
/// `envs/` directory gets `NAME.lock.json` beside it.
public struct EnvironmentPaths: Sendable, Equatable {
    /// The environment's name: the manifest's file name without `.json`.
    public var name: String
    /// Absolute path of the manifest.
    public var manifest: String
    /// Absolute directory the manifest's relative paths are relative to.
    public var directory: String
    public var lockfile: String

    /// `currentDirectory` is the caller's (`RequestContext.workingDirectory`).
    public init(argument: String, lockfileOverride: String? = nil, currentDirectory: String) throws(StrataError) {
        guard !argument.isEmpty else { throw .usage("the environment name is empty; give NAME (for envs/NAME.json) or a manifest path") }
        let isPath = argument.contains("/") || argument.hasSuffix(".json")
        let relative = isPath ? argument : "envs/\(argument).json"
        var absolute = EnvironmentPaths.absolute(relative, from: currentDirectory)
        // From inside a project (its src/, say), NAME is the nearest envs/NAME.json above, as
        // git finds its repository and devbox its devbox.json.
        if !isPath, access(absolute, F_OK) != 0 {
            var directory = currentDirectory
            while directory != "/", access(absolute, F_OK) != 0 {
                directory = EnvironmentPaths.absolute("..", from: directory)
                absolute = EnvironmentPaths.absolute(relative, from: directory)
            }
        }
        guard access(absolute, F_OK) == 0 else {
            throw .usage(isPath
                ? "no manifest at \(argument)"
                : "no environment \"\(argument)\": \(relative) does not exist under \(currentDirectory) or a directory above it")
        }
        manifest = absolute
        let slash = absolute.lastIndex(of: "/")!
        directory = slash == absolute.startIndex ? "/" : String(absolute[..<slash])
        var file = String(absolute[absolute.index(after: slash)...])
        if file.hasSuffix(".json") { file.removeLast(5) }
        name = file
        if let lockfileOverride {
            lockfile = EnvironmentPaths.absolute(lockfileOverride, from: currentDirectory)
        } else if directory.hasSuffix("/envs") {
            lockfile = String(directory.dropLast(5)) + "/lockfiles/\(name).lock.json"
        } else {
            lockfile = directory + "/\(name).lock.json"
        }
    }

    /// A path from the manifest (relative to its directory, or absolute), made absolute.
    public func resolve(_ path: String) -> String { EnvironmentPaths.absolute(path, from: directory) }

    /// `path` (absolute, normalised) as a path relative to the directory `base` (absolute,
    /// normalised): `../files` for `/p/files` from `/p/envs`.
    public static func relative(_ path: String, from base: String) -> String {
        let target = path.split(separator: "/"), origin = base.split(separator: "/")
        var common = 0
        while common < target.count, common < origin.count, target[common] == origin[common] { common += 1 }
        let parts = Array(repeating: "..", count: origin.count - common) + target[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// Joins and normalises `.`/`..` lexically.
    public static func absolute(_ path: String, from base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

import CLinux
import Glibc
import StrataJSON

/// Downloads through `strata-fetch`, the executable installed next to `strata`.
///
/// Why a separate process, as apt's `methods/http`: the HTTP stack (SwiftNIO,
/// AsyncHTTPClient, Foundation) adds tens of thousands of protocol conformances,
/// and the Swift runtime scans them the first time it instantiates a generic type,
/// on every start of `strata` — also for `strata run`, whose start-up is a product
/// feature and which never downloads. Only commands that fetch pay for it.
public struct FetchClient: Sendable {
    public var mirrors: [String]
    /// The `strata-fetch` to run (default: beside this executable, or `$STRATA_FETCH`).
    public var tool: String

    public init(mirrors: [String], tool: String = FetchClient.defaultTool) {
        self.mirrors = mirrors; self.tool = tool
    }

    public static var defaultTool: String {
        if let path = getenv("STRATA_FETCH") { return String(cString: path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "strata-fetch" }
        let exe = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)] + "/strata-fetch"
    }

    public func fetch(_ job: FetchJob) throws(FetchFailure) -> FetchedFile {
        let files = try fetchAll([job], progress: false)
        guard let file = files.first else { throw FetchFailure(path: job.path, message: "strata-fetch returned nothing for \(job.path)") }
        return file
    }

    /// All of `jobs` or none: on failure no destination is left behind.
    public func fetchAll(_ jobs: [FetchJob], progress: Bool) throws(FetchFailure) -> [FetchedFile] {
        let request = FetchRequest(mirrors: mirrors, jobs: jobs, progress: progress)
        let output = try run(JSON.compactBytes(request.json), firstPath: jobs.first?.path ?? "")
        guard let value = try? JSON.parse(output), let response = FetchResponse(json: value) else {
            throw FetchFailure(path: jobs.first?.path ?? "", message: "\(tool) gave an answer strata cannot read; reinstall strata and strata-fetch together")
        }
        switch response {
        case .failed(let failure): throw failure
        case .fetched(let files):
            guard files.count == jobs.count else {
                throw FetchFailure(path: jobs.first?.path ?? "", message: "\(tool) answered for \(files.count) of \(jobs.count) files")
            }
            return files
        }
    }

    /// Runs the tool with `input` on its stdin and returns its stdout.
    func run(_ input: [UInt8], firstPath: String) throws(FetchFailure) -> [UInt8] {
        func failure(_ what: String) -> FetchFailure { FetchFailure(path: firstPath, message: what) }
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe2(&toChild, O_CLOEXEC) == 0 else { throw failure("cannot download: pipe: \(String(cString: strerror(errno)))") }
        guard pipe2(&fromChild, O_CLOEXEC) == 0 else {
            close(toChild[0]); close(toChild[1])
            throw failure("cannot download: pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(tool), nil]
        defer { free(argv[0]) }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, tool, &actions, nil, &argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard spawned == 0 else {
            close(toChild[1]); close(fromChild[0])
            throw failure("cannot run \(tool): \(String(cString: strerror(spawned))); it is built and installed with strata (swift build builds both)")
        }
        // The tool reads all of its input before it writes anything, so writing first cannot deadlock.
        var offset = 0
        var writeFailed = false
        while offset < input.count {
            let n = input[offset...].withUnsafeBytes { write(toChild[1], $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; writeFailed = true; break }
            offset += n
        }
        close(toChild[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fromChild[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(fromChild[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if writeFailed || output.isEmpty {
            let how = (status & 0x7f) != 0 ? "was killed by signal \(status & 0x7f)" : "exited with status \((status >> 8) & 0xff)"
            throw failure("\(tool) \(how) without an answer")
        }
        return output
    }
}

import Glibc
import StrataOS
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
    /// The `strata-fetch` to run.
    public var tool: String
    /// Draw a progress line (strata-fetch draws it on its stderr, which is strata's).
    public var progress: Bool

    public init(mirrors: [String], tool: String, progress: Bool = false) {
        self.mirrors = mirrors; self.tool = tool; self.progress = progress
    }

    /// `strata-fetch` in the directory of the running executable, where strata is installed with it.
    public static func toolBesideThisExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "strata-fetch" }
        let exe = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/strata-fetch"
    }

    public func fetch(_ job: FetchJob) throws(FetchFailure) -> FetchedFile {
        let files = try fetchAll([job], progress: false)
        guard let file = files.first else { throw FetchFailure(path: job.path, message: "strata-fetch returned nothing for \(job.path)") }
        return file
    }

    /// All of `jobs` or none: on failure no destination is left behind. `progress` draws
    /// a progress line when the client was made with `progress` too.
    public func fetchAll(_ jobs: [FetchJob], progress: Bool) throws(FetchFailure) -> [FetchedFile] {
        let request = FetchRequest(mirrors: mirrors, jobs: jobs, progress: progress && self.progress)
        let output = try run(JSON.compactBytes(request.json), firstPath: jobs.first?.path ?? "")
        guard let value = try? JSON.parse(output), let response = FetchResponse(json: value) else {
            throw FetchFailure(path: jobs.first?.path ?? "", message: "\(tool) gave an answer strata cannot read; reinstall strata and strata-fetch together")
        }
        switch response {
        case .failed(let failure): throw failure
        case .pushed: throw FetchFailure(path: jobs.first?.path ?? "", message: "\(tool) answered a push to a download")
        case .fetched(let files):
            guard files.count == jobs.count else {
                throw FetchFailure(path: jobs.first?.path ?? "", message: "\(tool) answered for \(files.count) of \(jobs.count) files")
            }
            return files
        }
    }

    /// Does one registry job (see `RegistryJob`): a push answers what it did with the blobs,
    /// a pull the blobs it downloaded.
    @discardableResult
    public func registry(_ job: RegistryJob, progress: Bool) throws(FetchFailure) -> FetchResponse {
        let request = FetchRequest(mirrors: [], jobs: [], progress: progress && self.progress, registry: job)
        let output = try run(JSON.compactBytes(request.json), firstPath: "")
        guard let value = try? JSON.parse(output), let response = FetchResponse(json: value) else {
            throw FetchFailure(path: "", message: "\(tool) gave an answer strata cannot read; reinstall strata and strata-fetch together")
        }
        if case .failed(let failure) = response { throw failure }
        return response
    }

    /// Runs the tool with `input` on its stdin and returns its stdout. Its stderr is
    /// strata's, for the progress line.
    func run(_ input: [UInt8], firstPath: String) throws(FetchFailure) -> [UInt8] {
        // The tool's own environment: it reads none of it, and nothing of strata's caller leaks in.
        var process = Subprocess(executable: tool, arguments: [], environment: ["PATH=/usr/bin:/bin"])
        process.standardInput = .bytes(input)
        let outcome: Subprocess.Outcome
        do { outcome = try process.run() } catch {
            if error.operation == "run" {
                throw FetchFailure(path: firstPath, message: "cannot run \(tool): \(error.reason); it is built and installed with strata (swift build builds both)")
            }
            throw FetchFailure(path: firstPath, message: "cannot download: \(error.description)")
        }
        guard !outcome.standardOutput.isEmpty else {
            throw FetchFailure(path: firstPath, message: "\(tool) \(outcome.ending) without an answer")
        }
        return outcome.standardOutput
    }
}

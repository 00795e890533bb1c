import Glibc
import Synchronization

/// A one-line progress display for downloads, e.g. `fetching 37/120 files, 45.2/66.0 MB, 11.3 MB/s`,
/// redrawn in place at most ten times a second and cleared when the downloads end.
///
/// Thread-safe: parallel downloads report to the same display. Draw it only on a terminal
/// (the caller checks): a log or a pipe should not fill with carriage returns.
public final class FetchProgress: Sendable {
    private struct State {
        var files = 0
        var filesDone = 0
        /// The sum of the expected sizes, when every download's size is known.
        var totalBytes: Int64?
        var bytes: Int64 = 0
        var lastDraw: ContinuousClock.Instant?
        var drawn = false
        var started = ContinuousClock.now
        /// Per-file lines (a registry's layers), in the order the files started.
        var lines: [FileLine] = []
        var drawnLines = 0
    }

    /// One file's line, as `docker pull` draws a layer's: `71699138d3a7: Downloading 12.3/40.0 MB`.
    struct FileLine {
        var file: String
        var size: Int64?
        var bytes: Int64 = 0
        var status: String
    }

    /// Draws a line per file (`fileStarted`…`fileDone`) instead of one for all.
    private let perFile: Bool
    private let verb: String

    private let label: String
    private let fd: Int32
    private let state = Mutex(State())
    static let interval = Duration.milliseconds(100)

    /// A display written to `fd`, whatever it is.
    public init(label: String = "fetching", fd: Int32 = 2) {
        self.label = label
        self.fd = fd
        perFile = false
        verb = ""
    }

    /// A display of one line per file, each saying `verb` (`Downloading`, `Pushing`) while
    /// its bytes move and its own status when it ends; the lines stay when it ends.
    public init(perFile verb: String, fd: Int32 = 2) {
        label = verb
        self.fd = fd
        perFile = true
        self.verb = verb
    }

    /// A file begins to move.
    func fileStarted(_ file: String, size: Int64?) {
        guard perFile else { return }
        state.withLock { state in
            if let index = state.lines.firstIndex(where: { $0.file == file }) {
                state.lines[index].status = verb
            } else {
                state.lines.append(FileLine(file: file, size: size, status: verb))
            }
            draw(&state, force: true)
        }
    }

    /// Counts bytes of `file` (negative to take back those of a failed attempt).
    func add(bytes: Int64, file: String) {
        state.withLock { state in
            state.bytes += bytes
            if perFile, let index = state.lines.firstIndex(where: { $0.file == file }) { state.lines[index].bytes += bytes }
            draw(&state, force: false)
        }
    }

    /// `file` ended as `status` says (`Download complete`, `Layer already exists`, `Mounted from team/app`).
    func fileDone(_ file: String, status: String) {
        state.withLock { state in
            state.filesDone += 1
            if perFile {
                if let index = state.lines.firstIndex(where: { $0.file == file }) {
                    state.lines[index].status = status
                } else {
                    state.lines.append(FileLine(file: file, size: nil, status: status))
                }
            }
            draw(&state, force: true)
        }
    }

    /// Starts a batch of `files` downloads of `bytes` bytes in all (nil when not every size is known).
    func begin(files: Int, bytes: Int64?) {
        state.withLock { state in
            state = State(files: files, totalBytes: bytes)
            draw(&state, force: true)
        }
    }

    /// Counts bytes received; negative to take back those of a failed attempt.
    func add(bytes: Int64) {
        state.withLock { state in
            state.bytes += bytes
            draw(&state, force: false)
        }
    }

    func fileDone() {
        state.withLock { state in
            state.filesDone += 1
            draw(&state, force: false)
        }
    }

    /// Clears the line, so that what is printed next starts on a clean one.
    func end() {
        state.withLock { state in
            if perFile {
                if state.drawn { draw(&state, force: true) }
            } else if state.drawn {
                write("\r\u{1b}[K")
            }
            state = State()
        }
    }

    /// The line as drawn, without the control characters.
    func line() -> String { state.withLock { text($0) } }

    private func text(_ state: State) -> String {
        let bytes = state.totalBytes.map { Self.megabytes(state.bytes) + "/" + Self.megabytes($0) }
            ?? Self.megabytes(state.bytes)
        let elapsed = ContinuousClock.now - state.started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // A rate over the first moments says nothing.
        let rate = seconds >= 0.5 ? ", " + Self.megabytes(Int64(Double(state.bytes) / seconds)) + " MB/s" : ""
        return "\(label) \(state.filesDone)/\(state.files) files, \(bytes) MB" + rate
    }

    private func draw(_ state: inout State, force: Bool) {
        let now = ContinuousClock.now
        if !force, let last = state.lastDraw, now - last < Self.interval { return }
        state.lastDraw = now
        state.drawn = true
        guard perFile else {
            write("\r\u{1b}[K" + text(state))
            return
        }
        // Back to the first line drawn, then every line again.
        var out = state.drawnLines > 0 ? "\r\u{1b}[\(state.drawnLines)A" : "\r"
        for line in state.lines {
            let name = line.file.hasPrefix("sha256:") ? String(line.file.dropFirst(7).prefix(12)) : line.file
            var text = name + ": " + line.status
            if line.status == verb {
                text += " " + Self.megabytes(line.bytes) + (line.size.map { "/" + Self.megabytes($0) } ?? "") + " MB"
            }
            out += "\u{1b}[K" + text + "\n"
        }
        state.drawnLines = state.lines.count
        write(out)
    }

    /// `45.2`: megabytes (10⁶ bytes) with one decimal, rounded.
    static func megabytes(_ bytes: Int64) -> String {
        let tenths = (max(0, bytes) + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10)"
    }

    private func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                // A display that cannot be drawn is not worth failing a download for.
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

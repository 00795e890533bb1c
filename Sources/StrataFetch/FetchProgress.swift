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
    }

    private let label: String
    private let fd: Int32
    private let state = Mutex(State())
    static let interval = Duration.milliseconds(100)

    /// A display written to `fd`, whatever it is.
    public init(label: String = "fetching", fd: Int32 = 2) {
        self.label = label
        self.fd = fd
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
            if state.drawn { write("\r\u{1b}[K") }
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
        write("\r\u{1b}[K" + text(state))
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

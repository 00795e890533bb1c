import Dispatch
import Glibc
import Strata
import StrataEnvironment
import StrataJSON
import Synchronization

/// How a command that builds shows what the build does (`--progress`).
enum ProgressMode: String, CaseIterable {
    /// `tty` when stderr is a terminal, else `plain`.
    case auto
    /// The running step redrawn in place with its elapsed time and last lines of output.
    case tty
    /// A line per event, a step's whole output prefixed with its number; no escape sequences.
    case plain
    /// One JSON object per line, for tools.
    case json
    /// Nothing but failures (`-q`).
    case quiet

    static let help = "How to show build progress: auto (tty on a terminal, else plain), tty, plain, json or quiet."

    /// The sentence for a `--progress` value that is not a mode.
    static func refusal(_ value: String) -> String {
        "--progress \(value) is not a mode; use one of " + allCases.map(\.rawValue).joined(separator: ", ")
    }
}

/// Renders `BuildEvent`s on stderr. Events come from the build's thread and from the
/// thread reading a step's output, so everything goes through one lock.
final class BuildProgress: Sendable {
    private struct State {
        /// The running step's unfinished last line, and its last full lines (tty).
        var partial: [UInt8] = []
        var recent: [String] = []
        /// Lines drawn under the step line (tty), to be cleared before the next draw.
        var drawn = 0
        var sawStep = false
        var running: BuildStepName?
        var startedAt = 0.0
        /// Bumped at each step start: a ticker of an earlier step stops.
        var generation = 0
    }

    let mode: ProgressMode
    private let state = Mutex(State())
    /// Lines of output kept under a running step on a terminal.
    static let tailLines = 6

    init(mode: ProgressMode, stderrIsTerminal: Bool) {
        self.mode = mode == .auto ? (stderrIsTerminal ? .tty : .plain) : mode
    }

    func handle(_ event: BuildEvent) {
        let generation: Int? = state.withLock { state in
            switch mode {
            case .quiet, .auto: return nil
            case .json: json(event)
            case .plain: plain(event, &state)
            case .tty:
                tty(event, &state)
                if case .started = event { return state.generation }
            }
            return nil
        }
        if let generation { tick(generation) }
    }

    /// Redraws the running step every second (its elapsed time), even when it prints nothing.
    private func tick(_ generation: Int) {
        DispatchQueue.global().async { [self] in
            while true {
                usleep(1_000_000)
                let running = state.withLock { state -> Bool in
                    guard state.generation == generation, state.running != nil else { return false }
                    redraw(&state)
                    return true
                }
                if !running { return }
            }
        }
    }

    private func plain(_ event: BuildEvent, _ state: inout State) {
        switch event {
        case .started(let step):
            state.sawStep = true
            state.partial = []
            write("\(step.description)\n")
        case .output(let step, let bytes):
            var text = ""
            for line in lines(bytes, &state) { text += step.tag + " | " + line + "\n" }
            write(text)
        case .cached(let step):
            state.sawStep = true
            write("\(step.description): cached\n")
        case .done(let step, let seconds):
            flushPartial(step, &state)
            write("\(step.description): done \(Self.seconds(seconds))\n")
        case .failed(let step, let status):
            flushPartial(step, &state)
            write("\(step.description): FAILED (exit status \(status))\n")
        case .finished(let ran, let cached, let seconds):
            if state.sawStep { write(Self.summary(ran: ran, cached: cached, seconds: seconds) + "\n") }
        }
    }

    private func flushPartial(_ step: BuildStepName, _ state: inout State) {
        guard !state.partial.isEmpty else { return }
        write(step.tag + " | " + String(decoding: state.partial, as: UTF8.self) + "\n")
        state.partial = []
    }

    private func tty(_ event: BuildEvent, _ state: inout State) {
        switch event {
        case .started(let step):
            state.sawStep = true
            state.running = step
            state.generation += 1
            state.recent = []
            state.partial = []
            state.startedAt = Self.now()
            redraw(&state)
        case .output(_, let bytes):
            state.recent += lines(bytes, &state).map(Self.printable)
            if state.recent.count > Self.tailLines { state.recent.removeFirst(state.recent.count - Self.tailLines) }
            redraw(&state)
        case .cached(let step):
            state.sawStep = true
            clear(&state)
            write("\(step.description): cached\n")
        case .done(let step, let seconds):
            clear(&state)
            state.running = nil
            write("\(step.description): done \(Self.seconds(seconds))\n")
        case .failed(let step, let status):
            clear(&state)
            state.running = nil
            write("\(step.description): FAILED (exit status \(status))\n")
        case .finished(let ran, let cached, let seconds):
            clear(&state)
            if state.sawStep { write(Self.summary(ran: ran, cached: cached, seconds: seconds) + "\n") }
        }
    }

    /// The running step's line with its elapsed time, and its last lines of output dimmed.
    private func redraw(_ state: inout State) {
        guard let step = state.running else { return }
        clear(&state)
        var text = "\(step.description) \(Self.seconds(Self.now() - state.startedAt))\u{1B}[K\n"
        for line in state.recent { text += "\u{1B}[2m  " + String(line.prefix(Self.columns - 3)) + "\u{1B}[0m\u{1B}[K\n" }
        state.drawn = 1 + state.recent.count
        write(text)
    }

    private func clear(_ state: inout State) {
        guard state.drawn > 0 else { return }
        write("\u{1B}[\(state.drawn)F\u{1B}[J")
        state.drawn = 0
    }

    private func json(_ event: BuildEvent) {
        var object: [String: JSONValue]
        func step(_ name: BuildStepName, _ kind: String) -> [String: JSONValue] {
            ["event": .string(kind), "step": .int(Int64(name.number)), "total": .int(Int64(name.total)), "summary": .string(name.summary)]
        }
        switch event {
        case .started(let name): object = step(name, "started")
        case .output(let name, let bytes):
            object = step(name, "output")
            object["text"] = .string(String(decoding: bytes, as: UTF8.self))
        case .cached(let name): object = step(name, "cached")
        case .done(let name, let seconds):
            object = step(name, "done")
            object["seconds"] = .double((seconds * 1000).rounded() / 1000)
        case .failed(let name, let status):
            object = step(name, "failed")
            object["status"] = .int(Int64(status))
        case .finished(let ran, let cached, let seconds):
            object = ["event": .string("finished"), "ran": .int(Int64(ran)), "cached": .int(Int64(cached)),
                      "seconds": .double((seconds * 1000).rounded() / 1000)]
        }
        write(String(decoding: JSON.compactBytes(.object(object)), as: UTF8.self) + "\n")
    }

    /// The complete lines in `bytes` after what was left of the last chunk.
    private func lines(_ bytes: [UInt8], _ state: inout State) -> [String] {
        state.partial += bytes
        var lines: [String] = []
        while let newline = state.partial.firstIndex(of: 0x0A) {
            var line = Array(state.partial[..<newline])
            if line.last == 0x0D { line.removeLast() }
            lines.append(String(decoding: line, as: UTF8.self))
            state.partial.removeSubrange(...newline)
        }
        return lines
    }

    /// A line without control characters, so that a step's output cannot move the cursor.
    static func printable(_ line: String) -> String {
        String(String.UnicodeScalarView(line.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    static func summary(ran: Int, cached: Int, seconds: Double) -> String {
        "built: \(ran) step\(ran == 1 ? "" : "s") run, \(cached) cached, in \(Self.seconds(seconds))"
    }

    /// "0.04s", "4.2s", "73.0s": two decimals under ten seconds, where steps are quick.
    static func seconds(_ value: Double) -> String {
        if value < 9.995 {
            let hundredths = Int((value * 100).rounded())
            return "\(hundredths / 100)." + (hundredths % 100 < 10 ? "0" : "") + "\(hundredths % 100)s"
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)s"
    }

    static let columns: Int = {
        var size = winsize()
        return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 10 ? Int(size.ws_col) : 80
    }()

    static func now() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private func write(_ text: String) { StandardError.write(text) }
}

import NIOCore
import StrataSessions
import StrataOS
import Synchronization

/// Streams of a container's output, as stdcopy numbers them.
enum OutputStream: UInt8, Sendable {
    case stdin = 0, stdout = 1, stderr = 2
}

/// What the daemon holds of one container while it lives: the run in progress (its
/// runner's pid, its stdin, its terminal), who is attached to its output, and who waits
/// for it to end. Output goes to the log and to every subscriber under one lock, so a
/// `logs -f` that reads the log and then subscribes sees each line once.
final class LiveContainer: Sendable {
    let id: String
    /// nil for an exec, whose output Docker keeps no log of.
    let log: SessionLog?

    /// Someone receiving the output: an attach, or a `logs -f`.
    struct Subscriber: Sendable {
        var streams: Set<OutputStream>
        var deliver: @Sendable (OutputStream, ByteBuffer) -> Void
        var end: @Sendable () -> Void
    }

    enum WaitCondition: String, Sendable {
        case notRunning = "not-running", nextExit = "next-exit", removed
    }

    struct Run: Sendable {
        var runnerPID: Int32
        var tty: Bool
        var stdinOnce: Bool
        /// Where stdin goes (a pipe, or the terminal's master); nil without `OpenStdin`.
        var stdin: Channel?
        /// A descriptor of the terminal's master for resizing; -1 without a terminal.
        var terminal: Int32
        var openOutputs: Int
        var exitCode: Int32?
    }

    struct State: Sendable {
        var run: Run?
        var starting = false
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
        var waiters: [(condition: WaitCondition, action: @Sendable (Int32) -> Void)] = []
        /// stdin an attach sent before the container ran, and whether it ended there.
        var pendingInput: [ByteBuffer] = []
        var pendingInputEnded = false
        /// The last terminal size asked for, for a run that starts later.
        var size: (rows: UInt16, columns: UInt16)?
        /// Why the run's command did not start, for its end to record.
        var startError: String?
    }

    let state = Mutex(State())
    /// Where a log that cannot be written is said (once a run: the container goes on).
    let report: @Sendable (String) -> Void
    private let logFailed = Atomic<Bool>(false)

    init(id: String, log: SessionLog?, report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.id = id; self.log = log; self.report = report
    }

    var isRunning: Bool { state.withLock { $0.run != nil || $0.starting } }

    /// Subscribes to the output; `history` runs under the same lock first (a `logs -f`
    /// sending what the log holds). Returns the subscription's key.
    @discardableResult
    func subscribe(_ subscriber: Subscriber, history: () -> Void = {}) -> Int {
        state.withLock { state in
            history()
            let key = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[key] = subscriber
            return key
        }
    }

    func unsubscribe(_ key: Int) { _ = state.withLock { $0.subscribers.removeValue(forKey: key) } }

    /// A chunk of output: logged, then handed to every subscriber that wants its stream.
    func output(_ stream: OutputStream, _ buffer: ByteBuffer, time: Int64) {
        let (receivers, failure) = state.withLock { state -> ([Subscriber], SystemError?) in
            var failure: SystemError?
            do throws(SystemError) { try log?.append(stream: stream.rawValue, Array(buffer.readableBytesView), time: time) } catch {
                failure = error
            }
            return (state.subscribers.values.filter { $0.streams.contains(stream) }, failure)
        }
        if let failure, !logFailed.exchange(true, ordering: .relaxed) {
            report("container \(id): its log cannot be written, so docker logs will miss output: \(failure)")
        }
        for receiver in receivers { receiver.deliver(stream, buffer) }
    }

    /// The client's stdin: to the run's stdin, or kept until a run starts.
    func input(_ buffer: ByteBuffer) {
        let target = state.withLock { state -> Channel? in
            guard let run = state.run, let stdin = run.stdin else {
                state.pendingInput.append(buffer)
                return nil
            }
            return stdin
        }
        target?.writeAndFlush(buffer, promise: nil)
    }

    /// The client's stdin ended: the run's stdin closes when the container asked for that
    /// (`StdinOnce`, as `docker run -i` sets), so the command sees end of file.
    func inputEnded() {
        let target = state.withLock { state -> Channel? in
            // Before the run's stdin is there (not started, or starting): kept for `began`.
            guard let run = state.run, let stdin = run.stdin else {
                state.pendingInputEnded = true
                return nil
            }
            return run.stdinOnce && !run.tty ? stdin : nil
        }
        target?.close(promise: nil)
    }

    /// Registers `action` to get the exit code when `condition` is met.
    func wait(_ condition: WaitCondition, _ action: @escaping @Sendable (Int32) -> Void) {
        state.withLock { $0.waiters.append((condition, action)) }
    }

    /// The run's command started: its stdin is `stdin` from now on, and what an attach
    /// sent before goes there first.
    func began(stdin: Channel?) {
        let (pending, ended, run) = state.withLock { state -> ([ByteBuffer], Bool, Run?) in
            guard var run = state.run else { return ([], false, nil) }
            run.stdin = stdin
            state.run = run
            defer { state.pendingInput = []; state.pendingInputEnded = false }
            return (state.pendingInput, state.pendingInputEnded, run)
        }
        guard let stdin else { return }
        guard let run else {
            // Over already: nobody writes to it any more.
            stdin.close(promise: nil)
            return
        }
        for buffer in pending { stdin.write(buffer, promise: nil) }
        stdin.flush()
        if ended && run.stdinOnce && !run.tty { stdin.close(promise: nil) }
    }

    /// One of the run's outputs reached its end; returns whether the run is over.
    func outputClosed() -> Bool {
        state.withLock { state in
            guard var run = state.run else { return false }
            run.openOutputs -= 1
            state.run = run
            return run.openOutputs <= 0 && run.exitCode != nil
        }
    }

    /// The runner ended with `code`; returns whether the run is over.
    func exited(_ code: Int32) -> Bool {
        state.withLock { state in
            guard var run = state.run else { return false }
            run.exitCode = code
            state.run = run
            return run.openOutputs <= 0
        }
    }

    /// Ends the run: subscribers are told (their connections close), waiters for an exit
    /// get `code`. Returns the run as it was, for the caller to close its descriptors.
    func finish(_ code: Int32) -> Run? {
        let (run, subscribers, waiters) = state.withLock { state -> (Run?, [Subscriber], [@Sendable (Int32) -> Void]) in
            let run = state.run
            state.run = nil
            state.starting = false
            let subscribers = Array(state.subscribers.values)
            state.subscribers = [:]
            var due: [@Sendable (Int32) -> Void] = []
            state.waiters.removeAll { waiter in
                guard waiter.condition != .removed else { return false }
                due.append(waiter.action)
                return true
            }
            return (run, subscribers, due)
        }
        for subscriber in subscribers { subscriber.end() }
        for waiter in waiters { waiter(code) }
        return run
    }

    /// The container is gone: every waiter left gets `code`, every subscriber its end.
    func removed(_ code: Int32) {
        let (subscribers, waiters) = state.withLock { state -> ([Subscriber], [@Sendable (Int32) -> Void]) in
            defer { state.subscribers = [:]; state.waiters = [] }
            return (Array(state.subscribers.values), state.waiters.map(\.action))
        }
        for subscriber in subscribers { subscriber.end() }
        for waiter in waiters { waiter(code) }
    }
}

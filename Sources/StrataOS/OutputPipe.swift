import CLinux
import Dispatch
import Glibc
import Synchronization

/// A pipe that a child process writes its output to while a thread of this process drains
/// it: every chunk goes to `onOutput` as it arrives, and the last `keep` bytes are kept for
/// a message about how the child ended.
///
/// The read end never blocks the child for long (it is read as fast as it is written);
/// `finish()` closes this process's write end and waits until every writer is gone.
public final class OutputPipe: Sendable {
    /// The end to give the child (close-on-exec in this process).
    public let writeEnd: Int32
    private let readEnd: Int32
    private final class Tail: Sendable { let bytes = Mutex<[UInt8]>([]) }
    private let tail = Tail()
    private let done = DispatchSemaphore(value: 0)
    private let closed = Atomic<Bool>(false)

    public init(keep: Int = 64 << 10, onOutput: @escaping @Sendable ([UInt8]) -> Void) throws(SystemError) {
        var fds: [Int32] = [-1, -1]
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SystemError("pipe2", path: "a pipe for a command's output") }
        readEnd = fds[0]
        writeEnd = fds[1]
        let readEnd = self.readEnd
        let tail = self.tail
        let done = self.done
        DispatchQueue.global().async {
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                let chunk = Array(buffer[..<count])
                tail.bytes.withLock { kept in
                    kept += chunk
                    if kept.count > keep { kept.removeFirst(kept.count - keep) }
                }
                onOutput(chunk)
            }
            close(readEnd)
            done.signal()
        }
    }

    /// Closes this process's write end, waits for the reader to see the end of the output
    /// (every child holding the other end gone), and returns the last bytes written.
    public func finish() -> [UInt8] {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) {
            close(writeEnd)
            done.wait()
        }
        return tail.bytes.withLock { $0 }
    }

    deinit { _ = finish() }
}

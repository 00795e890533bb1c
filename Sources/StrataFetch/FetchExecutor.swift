import Dispatch
import Glibc
import Synchronization

/// Runs the fetcher's tasks on threads of its own, never on Swift's cooperative pool.
///
/// The sync API blocks its calling thread until the downloads end. That thread may itself be a
/// cooperative one (Swift Testing runs synchronous tests there; a caller may wrap us in an async
/// function): were the downloads to need the cooperative pool, a few blocked callers could take
/// every thread of it and wait for ever. Serial dispatch queues run on overcommitting threads,
/// which dispatch adds whenever they are busy, so a job here always gets a thread.
public final class FetchExecutor: TaskExecutor {
    static let shared = FetchExecutor()

    private let queues: [DispatchQueue]
    private let next = Atomic<UInt>(0)

    private init() {
        // Several queues so that hashing and writing several downloads uses several cores.
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        queues = (0..<max(2, min(8, cpus))).map { DispatchQueue(label: "strata.fetch.\($0)") }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let index = Int(next.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(queues.count))
        queues[index].async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Suspends for `seconds`. Not `Task.sleep`: its timer wakes the task on the global
    /// executor first, which is the cooperative pool this executor exists to avoid.
    static func sleep(seconds: Double) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            shared.queues[0].asyncAfter(deadline: .now() + seconds) { continuation.resume() }
        }
    }

    /// Runs `operation` on this executor and blocks the calling thread until it returns.
    public static func runBlocking<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T {
        let completion = Completion<T>()
        Task.detached(executorPreference: shared) { completion.finish(await operation()) }
        return completion.wait()
    }
}

/// A value handed from the task that computes it to the thread that waits for it.
private final class Completion<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func finish(_ result: T) {
        value.withLock { $0 = result }
        done.signal()
    }

    func wait() -> T {
        done.wait()
        guard let result = value.withLock({ $0.take() }) else { preconditionFailure("signalled without a value") }
        return result
    }
}

import Synchronization

/// A request's "stop": set once by its caller (a client that went away, an interrupt),
/// seen by the work at its next step boundary (between layers, packages, blobs), which
/// then stops before publishing anything further. Thread-safe.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .releasing) }

    public var isCancelled: Bool { flag.load(ordering: .acquiring) }

    /// Throws `StrataError.cancelled` once the request was cancelled.
    public func check() throws(StrataError) {
        if isCancelled { throw .cancelled }
    }
}

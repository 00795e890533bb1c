import Glibc

/// A thread of its own for work that blocks for as long as something lives (a daemon
/// waiting on a container's process): Dispatch's pools and NIO's thread pool are sized
/// for short work, and fifty containers must not starve them.
public enum DetachedThread {
    private final class Body: @unchecked Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new detached thread. Throws when the system has no thread to give.
    public static func start(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // Waiting needs little stack; 256 KiB keeps a thousand of them cheap.
        pthread_attr_setstacksize(&attributes, 256 << 10)
        let created = pthread_create(&thread, &attributes, { pointer in
            guard let pointer else { return nil }
            let body = Unmanaged<Body>.fromOpaque(pointer).takeRetainedValue()
            body.run()
            return nil
        }, box)
        guard created == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw SystemError("pthread_create", path: "a thread", errno: created)
        }
    }
}

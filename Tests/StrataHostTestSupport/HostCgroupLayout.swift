import Glibc
import Testing

/// Orders tests around the host's cgroup layout. One test moves the pids and cpu controllers
/// from their cgroup v1 hierarchies to cgroup v2 for a while (to delegate them to a rootless
/// user, as systemd would), which would break any session asking for those limits meanwhile:
/// such tests hold the layout shared (`.sharedHostCgroups`), the mover holds it exclusively
/// (`.exclusiveHostCgroups`).
public struct HostCgroupLayout: TestTrait, SuiteTrait, TestScoping {
    let exclusive: Bool
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> HostCgroupLayout? {
        // Each test case holds it while it runs; a suite as a whole does not.
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        await Gate.shared.enter(exclusive: exclusive)
        do {
            try await function()
        } catch {
            await Gate.shared.leave(exclusive: exclusive)
            throw error
        }
        await Gate.shared.leave(exclusive: exclusive)
    }

    /// A readers-writer gate that waits by sleeping, never by blocking one of the few
    /// threads every test shares; a waiting writer keeps new readers out.
    actor Gate {
        static let shared = Gate()
        private var readers = 0
        private var writer = false
        private var writersWaiting = 0

        func enter(exclusive: Bool) async {
            if exclusive { writersWaiting += 1 }
            while writer || (exclusive ? readers > 0 : writersWaiting > 0) {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if exclusive {
                writersWaiting -= 1
                writer = true
            } else {
                readers += 1
            }
        }

        func leave(exclusive: Bool) {
            if exclusive { writer = false } else { readers -= 1 }
        }
    }
}

extension Trait where Self == HostCgroupLayout {
    /// The test's sessions use the pids or cpu controller where the host mounts them.
    public static var sharedHostCgroups: Self { HostCgroupLayout(exclusive: false) }
    /// The test changes which hierarchy carries the pids and cpu controllers.
    public static var exclusiveHostCgroups: Self { HostCgroupLayout(exclusive: true) }
}

import CLinux
import Glibc
import StrataArchive
import StrataEngineTestSupport
import StrataEnvironment
import StrataLock
import StrataModel
import StrataOS
import StrataSessions
import StrataStore
import Synchronization
import Testing
@testable import StrataBuild

/// Events a build reported, in order.
final class Events: Sendable {
    private let list = Mutex<[BuildEvent]>([])
    func append(_ event: BuildEvent) { list.withLock { $0.append(event) } }
    var all: [BuildEvent] { list.withLock { $0 } }
    var output: String {
        all.reduce(into: "") { text, event in if case .output(_, let bytes) = event { text += String(decoding: bytes, as: UTF8.self) } }
    }
}

@Suite("Run steps: commands as layers, keyed by what they run on")
struct RunStepTests {
    /// A manifest on the busybox tarball with these steps (JSON texts).
    func manifest(_ steps: [String], extra: String = "") -> String {
        #"{"steps": [{"tar": "../images/busybox.tar"}, "# + steps.joined(separator: ", ") + "]" + extra + "}"
    }

    func build(_ fixture: EngineFixture, _ name: String, _ text: String, events: Events? = nil,
               options: BuildOptions = BuildOptions()) throws -> (BuildResult, LoadedEnvironment, Lockfile) {
        let environment = try fixture.environment(name, text)
        var context = fixture.context
        if let events { context.events = { events.append($0) } }
        let (lockfile, _) = try Locker(store: fixture.store, context: context).lock(environment)
        let result = try Builder(store: fixture.store, context: context).build(environment, lockfile: lockfile, options: options)
        return (result, environment, lockfile)
    }

    func file(_ fixture: EngineFixture, _ snapshot: Digest, _ path: String) throws -> String? {
        for dir in try fixture.store.lowerDirs(for: snapshot) {
            var info = stat()
            guard lstat(dir + path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFCHR { return nil }
            return String(decoding: try HostFile.read(dir + path), as: UTF8.self)
        }
        return nil
    }

    static let five = (1...5).map { #"{"run": "echo \#($0) > /s\#($0)"}"# }

    @Test("five steps: editing the last re-runs it alone, editing the first re-runs all, a cached build runs none")
    func cacheFollowsEdits() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let (first, _, _) = try build(fixture, "app", manifest(Self.five))
        #expect(first.stepsRun == 5 && first.stepsCached == 0)
        #expect(try file(fixture, first.snapshot, "/s5") == "5\n")

        let events = Events()
        let (again, _, _) = try build(fixture, "app", manifest(Self.five), events: events)
        #expect(again.stepsRun == 0 && again.snapshot == first.snapshot)
        #expect(!events.all.contains { if case .started = $0 { true } else { false } }, "a cached build starts no step")
        #expect(try Directory.names(fixture.store.root + "/sessions").filter { !$0.hasPrefix(".") }.isEmpty)

        var lastEdited = Self.five
        lastEdited[4] = #"{"run": "echo five > /s5"}"#
        let (last, _, _) = try build(fixture, "app", manifest(lastEdited))
        #expect(last.stepsRun == 1 && last.stepsCached == 4)
        #expect(try file(fixture, last.snapshot, "/s5") == "five\n")

        var firstEdited = Self.five
        firstEdited[0] = #"{"run": "echo one > /s1"}"#
        let (all, _, _) = try build(fixture, "app", manifest(firstEdited))
        #expect(all.stepsRun == 5)

        let (forced, _, _) = try build(fixture, "app", manifest(Self.five), options: BuildOptions(noCache: true))
        #expect(forced.stepsRun == 5 && forced.snapshot == first.snapshot, "--no-cache runs every step, to the same layers")
    }

    @Test("a step re-run that makes the same layer leaves every later step cached")
    func keysFollowOutputs() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let (first, _, _) = try build(fixture, "app", manifest(Self.five))
        var commented = Self.five
        commented[0] = #"{"run": "echo 1 > /s1 # the same file, a different command"}"#
        let (second, _, _) = try build(fixture, "app", manifest(commented))
        #expect(second.stepsRun == 1 && second.stepsCached == 4)
        #expect(second.snapshot == first.snapshot)
    }

    @Test("a step's changes — files, deletions, opaque directories — are its layer, normalized")
    func changesAreTheLayer() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot(extra: ["/etc/motd": "lower\n", "/opt/d/old": "old\n", "/etc/machine-id": "0123\n"])
        let script = "rm /etc/motd; rm -r /opt/d; mkdir -p /opt/d /var/log /x/__pycache__; echo new > /opt/d/new; "
            + "echo log > /var/log/step.log; printf 'abcd\\000\\000\\000\\000' > /x/__pycache__/t.pyc; "
            + "printf 'abcd\\001\\000\\000\\000' > /x/__pycache__/h.pyc; echo $SOURCE_DATE_EPOCH $TZ $(cat /proc/sys/kernel/hostname) > /facts; "
            + "echo 4567 > /etc/machine-id"
        let json = script.replacingAll("\\", with: "\\\\")
        let (result, _, _) = try build(fixture, "app", manifest([#"{"run": "\#(json)"}"#], extra: #", "epoch": 1234"#))
        #expect(try file(fixture, result.snapshot, "/etc/motd") == nil)
        var opaque = [UInt8](repeating: 0, count: 4)
        let top = try fixture.store.snapshotLayers(result.snapshot).last!
        #expect(getxattr(fixture.store.layerPath(top) + "/opt/d", "trusted.overlay.opaque", &opaque, 4) == 1 && opaque[0] == 0x79,
                "the directory removed and made again is opaque: it hides what was below")
        #expect(try file(fixture, result.snapshot, "/opt/d/new") == "new\n")
        #expect(try file(fixture, result.snapshot, "/facts") == "1234 UTC strata-build\n")
        #expect(try file(fixture, result.snapshot, "/var/log/step.log") == nil)
        #expect(try file(fixture, result.snapshot, "/x/__pycache__/t.pyc") == nil, "a timestamp-based .pyc is dropped")
        #expect(try file(fixture, result.snapshot, "/x/__pycache__/h.pyc") != nil, "a hash-based one stays")
        #expect(try file(fixture, result.snapshot, "/etc/machine-id") == "")
        var info = stat()
        #expect(lstat(fixture.store.layerPath(top) + "/opt/d/new", &info) == 0 && info.st_mtim.tv_sec <= 1234)
        let digest = try TreeArchiver.digest(source: fixture.store.layerPath(top), target: "/", options: .sessionChange(epoch: 1234))
        #expect(top == digest, "a run step's layer is stored under its own diff id")
    }

    @Test("a cache path outlives the step and is shared across environments, in no layer; concurrent builds both succeed")
    func cachePaths() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let writer = #"{"run": "echo kept > /cache/from-a; echo a > /a", "cache": ["/cache"]}"#
        let (a, _, _) = try build(fixture, "a", manifest([writer]))
        let reader = #"{"run": "cat /cache/from-a > /seen", "cache": ["/cache"]}"#
        let (b, _, _) = try build(fixture, "b", manifest([reader]))
        #expect(try file(fixture, b.snapshot, "/seen") == "kept\n")
        for snapshot in [a.snapshot, b.snapshot] {
            #expect(try file(fixture, snapshot, "/cache/from-a") == nil, "the cache's files are in no layer")
        }

        let failures = Mutex<[String]>([])
        let slow = { (n: Int) in #"{"run": "echo \#(n) >> /cache/log; sleep 0.3; echo \#(n) >> /cache/log; echo \#(n) > /n", "cache": ["/cache"]}"# }
        for n in 1...2 { _ = try fixture.environment("c\(n)", manifest([slow(n)])) }
        let threads = (1...2).map { n in
            TestThread {
                do { _ = try build(fixture, "c\(n)", manifest([slow(n)])) } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        threads.forEach { $0.start() }
        threads.forEach { $0.join() }
        #expect(failures.withLock { $0 }.isEmpty)
        let log = try HostFile.read(fixture.store.runCachePath("/cache") + "/data/log")
        let lines = String(decoding: log, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 4 && lines[0] == lines[1] && lines[2] == lines[3], "one step held the cache at a time: \(lines)")
    }

    @Test("a failing step stops the build: its status, place, output; nothing published; its session kept")
    func failingStep() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let text = manifest([#"{"run": "echo ok > /ok"}"#, #"{"run": "echo partial > /partial; echo going wrong; exit 3"}"#],
                            extra: #", "shell": ["/bin/sh", "-c", "test -e /partial && test -e /ok"]"#)
        let events = Events()
        var failure: StrataError?
        do { _ = try build(fixture, "app", text, events: events) } catch { failure = error as? StrataError }
        guard case .stepFailed(let step, let status, let log, let session)? = failure else {
            Issue.record("expected a failed step, got \(String(describing: failure))")
            return
        }
        #expect(status == 3)
        let column = #"{"steps": [{"tar": "../images/busybox.tar"}, {"run": "echo ok > /ok"}, "#.count + 1
        #expect(step.hasPrefix("step 3 (run: echo partial > /partial; echo going wrong; exit 3) at ")
                && step.hasSuffix("app.json:1:\(column)"), "\(step)")
        #expect(log.contains("going wrong"))
        #expect(failure?.description.contains("strata shell --session app-step-3-failed") == true, "\(failure!)")
        #expect(events.all.contains(.failed(BuildStepName(number: 3, total: 3, summary: "run: echo partial > /partial; echo going wrong; exit 3"), status: 3)))
        let snapshots = try Directory.names(fixture.store.root + "/snapshots")
        #expect(try Directory.names(fixture.store.root + "/layers").allSatisfy { !FileSystem.exists(fixture.store.root + "/layers/" + $0 + "/partial") })
        #expect(snapshots.count == 2, "the base and the first step's stack; no snapshot of the failed step: \(snapshots)")
        #expect(session == "app-step-3-failed")
        let sessions = Sessions(store: fixture.store, context: fixture.context)
        #expect(try sessions.shell(session: "app-step-3-failed") == 0, "the kept session has the failed step's files on the good layers")
        #expect(throws: StrataError.self) { _ = try build(fixture, "app", text) }
        #expect(try sessions.list().map(\.record.name) == ["app-step-3-failed"], "a second failure replaces the session the first kept")
    }

    @Test("a step has no network unless it asks for the host's")
    func network() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        #expect(listen(listener, 8) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)
        let probe = "if nc -w 2 127.0.0.1 \(port) -e true; then echo reached > /result; else echo unreachable > /result; fi"
        let (isolated, _, _) = try build(fixture, "none", manifest([#"{"run": "\#(probe)"}"#]))
        #expect(try file(fixture, isolated.snapshot, "/result") == "unreachable\n")
        let (host, _, lockfile) = try build(fixture, "host", manifest([#"{"run": "\#(probe)", "network": "host"}"#]))
        #expect(try file(fixture, host.snapshot, "/result") == "reached\n")
        #expect(lockfile.unreproducibleSteps.count == 1)
        #expect(String(decoding: lockfile.encoded(), as: UTF8.self).contains(#""reproducible": false"#))
    }

    @Test("--verify: a step writing the time is named with its file; a clean build verifies")
    func verify() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot()
        let steps = [#"{"run": "echo stable > /stable"}"#, #"{"run": "cat /proc/uptime > /stamp; head -c 8 /dev/urandom > /random; echo same > /same"}"#,
                     #"{"run": "cat /stable > /after"}"#]
        let environment = try fixture.environment("app", manifest(steps))
        let (lockfile, _) = try Locker(store: fixture.store, context: fixture.context).lock(environment)
        let builder = Builder(store: fixture.store, context: fixture.context)
        let report = try builder.verify(environment, lockfile: lockfile)
        #expect(!report.reproducible)
        #expect(report.layers.map(\.identical) == [true, false, true], "step 2, step 3 (differs), step 4; the pinned tarball's layer is not rebuilt")
        let differing = report.layers[1]
        #expect(differing.name.hasPrefix("step 3 (run: cat /proc/uptime"))
        #expect(differing.differences.count == 2 && differing.differences[0].hasPrefix("/random: content sha256:")
                && differing.differences[1].hasPrefix("/stamp: content sha256:"), "\(differing.differences)")
        #expect(try Directory.names(fixture.store.temporaryDirectory).isEmpty, "the fresh store is gone")

        let clean = try fixture.environment("clean", manifest([steps[0], steps[2]]))
        let (cleanLock, _) = try Locker(store: fixture.store, context: fixture.context).lock(clean)
        let cleanReport = try builder.verify(clean, lockfile: cleanLock)
        #expect(cleanReport.reproducible && cleanReport.layers.count == 2)
    }

    @Test("the step's user, workdir and env; lock --check names an edited step")
    func settingsAndStaleness() throws {
        let fixture = try EngineFixture()
        try fixture.busyboxRoot(extra: ["/etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"])
        let step = #"{"run": "echo $(id -u) $(pwd) $FOO $GLOBAL $HOME", "user": "app", "workdir": "/home/app", "env": {"FOO": "foo"}}"#
        let events = Events()
        let (_, environment, _) = try build(fixture, "app", manifest([step], extra: #", "env": {"GLOBAL": "g"}"#), events: events)
        #expect(events.output == "1000 /home/app foo g /home/app\n", "the step's output reaches the request's events")
        let edited = try fixture.environment("app", manifest([step.replacingFirst("foo", with: "bar")], extra: #", "env": {"GLOBAL": "g"}"#))
        let reason = try Locker(store: fixture.store, context: fixture.context).staleness(edited)
        #expect(reason?.hasPrefix("step 2 (run: echo $(id -u)") == true && reason?.hasSuffix(") changed") == true, "\(reason ?? "nil")")
        _ = environment
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }

    func replacingFirst(_ target: String, with replacement: String) -> String {
        let parts = split(separator: target, maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[0]) + replacement + String(parts[1]) : self
    }
}

/// A joinable thread for tests that need real concurrency.
final class TestThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
            let thread = Unmanaged<TestThread>.fromOpaque(raw!).takeRetainedValue()
            thread.body()
            return nil
        }, box)
    }
    func join() { pthread_join(handle, nil) }
}

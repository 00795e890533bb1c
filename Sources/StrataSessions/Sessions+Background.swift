import Glibc
import StrataEnvironment
import StrataModel
import StrataOS
import StrataSandbox
import StrataStore

/// Sessions that run in the background (`strata run -d`): their output in the session's
/// log, `strata logs` to read it, `strata stop` to end them as `docker stop` does.
extension Sessions {
    /// Where a background session's command writes its stdout and stderr.
    static func logPath(_ session: SessionRecord) -> String { session.path + "/log" }

    /// The session's log so far, and whether it still runs. A session that never ran in
    /// the background has no log: that is said, not taken for an empty one.
    public func log(_ idOrName: String, from offset: Int64 = 0) throws(StrataError) -> (bytes: [UInt8], running: Bool) {
        let session: SessionRecord
        do { session = try existing(idOrName) } catch { throw .store(error) }
        let path = Self.logPath(session)
        let running = store.isRunning(session)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let code = errno
            // A container `strata serve` ran keeps its output as records of stream and time.
            let framed = SessionLog(path: session.path + "/" + SessionLog.file)
            if code == ENOENT, FileSystem.exists(framed.path) {
                let bytes = framed.records().records.flatMap(\.bytes)
                return (Array(bytes.dropFirst(Int(max(0, min(offset, Int64(bytes.count)))))), running)
            }
            if code == ENOENT {
                throw .usage("session \(idOrName) keeps no log: only sessions started with `strata run -d` or by `strata serve` do; its output went to the terminal that ran it")
            }
            throw .input(path: path, reason: SystemError.text(code))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var position = offset
        while true {
            let n = pread(fd, &buffer, buffer.count, off_t(position))
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw .input(path: path, reason: SystemError.text(errno)) }
            if n == 0 { break }
            bytes += buffer[0..<n]
            position += Int64(n)
        }
        return (bytes, running)
    }

    /// Whether the session runs now.
    public func isRunning(_ idOrName: String) throws(StrataError) -> Bool {
        do { return store.isRunning(try existing(idOrName)) } catch { throw .store(error) }
    }

    /// Sends `signal` to running session `idOrName`'s init, which passes it to the command
    /// (SIGKILL ends the session and everything in it), as `docker kill -s` does. Returns
    /// false when the session was not running.
    public func signal(_ idOrName: String, _ signal: Int32) throws(StrataError) -> Bool {
        let session: SessionRecord
        do { session = try existing(idOrName) } catch { throw .store(error) }
        guard store.isRunning(session), let running = try runningSession(session), running.isAlive else { return false }
        return kill(running.initPID, signal) == 0
    }

    /// `strata stop`: SIGTERM to the session's command (its init forwards it), then SIGKILL
    /// to the init after `seconds` if the session still runs, as `docker stop -t`. Returns
    /// false when the session was not running.
    public func stop(_ idOrName: String, seconds: Double) throws(StrataError) -> Bool {
        let session: SessionRecord
        do { session = try existing(idOrName) } catch { throw .store(error) }
        guard store.isRunning(session), let running = try runningSession(session) else { return false }
        kill(running.initPID, SIGTERM)
        var waited = 0.0
        while store.isRunning(session), waited < seconds {
            usleep(20_000)
            waited += 0.02
        }
        if store.isRunning(session) {
            // Only while the record still names that init (its start time checked): never a recycled pid.
            let current: RunningSession?
            do { current = try RunningSession.read(recordPath: Self.initRecordPath(session)) } catch { throw .sandbox(error) }
            if current == running { kill(running.initPID, SIGKILL) }
            var grace = 0.0
            while store.isRunning(session), grace < 10 {
                usleep(20_000)
                grace += 0.02
            }
            if store.isRunning(session) {
                throw .input(path: session.path, reason: "session \(idOrName) still runs 10 s after SIGKILL: a process holds it (`strata exec` into it?); stop that process")
            }
        }
        return true
    }
}

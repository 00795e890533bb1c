import Glibc
import StrataJSON
import StrataOS
import StrataEnvironment
import StrataSessions

/// `/_ping`, `/version`, `/info` and `/events`: what clients ask before anything else.
extension Daemon {
    static func kernelRelease() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "strata" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func version() -> JSONValue {
        let details: [String: JSONValue] = [
            "ApiVersion": .string(EngineAPI.version), "MinAPIVersion": .string(EngineAPI.minimumVersion),
            "Os": .string("linux"), "Arch": .string("amd64"), "KernelVersion": .string(Self.kernelRelease()),
            "GitCommit": .string(""), "GoVersion": .string("none (Swift)"), "BuildTime": .string(""), "Experimental": .string("false"),
        ]
        return .object([
            "Platform": .object(["Name": .string("strata")]),
            "Components": .array([.object(["Name": .string("Engine"), "Version": .string(EngineAPI.strataVersion), "Details": .object(details)])]),
            "Version": .string(EngineAPI.strataVersion), "ApiVersion": .string(EngineAPI.version),
            "MinAPIVersion": .string(EngineAPI.minimumVersion), "Os": .string("linux"), "Arch": .string("amd64"),
            "KernelVersion": .string(Self.kernelRelease()), "GitCommit": .string(""), "GoVersion": .string("none (Swift)"),
            "BuildTime": .string(""), "Experimental": .bool(false),
        ])
    }

    func info() throws(APIError) -> JSONValue {
        let engine = try self.engine()
        let sessions: [SessionSummary]
        let imageCount: Int
        do throws(StrataError) {
            sessions = try engine.sessions.list()
            imageCount = try engine.images.list().count
        } catch { throw APIError(error) }
        let running = sessions.filter { $0.running || container($0.record).isRunning }.count
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        return .object([
            "ID": .string(store.root), "Name": .string(Self.hostName()),
            "Containers": .int(Int64(sessions.count)), "ContainersRunning": .int(Int64(running)),
            "ContainersPaused": .int(0), "ContainersStopped": .int(Int64(sessions.count - running)),
            "Images": .int(Int64(imageCount)),
            "Driver": .string("overlay"), "DriverStatus": .array([.array([.string("Store"), .string(store.root)])]),
            "DockerRootDir": .string(store.root),
            "Plugins": .object([
                "Volume": .array([.string("local")]), "Network": .array([.string("host"), .string("none")]),
                "Log": .array([.string("json-file")]), "Authorization": .null,
            ]),
            "MemoryLimit": .bool(true), "SwapLimit": .bool(false), "CpuCfsPeriod": .bool(true), "CpuCfsQuota": .bool(true),
            "PidsLimit": .bool(true), "IPv4Forwarding": .bool(false), "Debug": .bool(false), "NFd": .int(0), "NGoroutines": .int(0),
            "SystemTime": .string(DockerTime.format(DockerTime.now())), "LoggingDriver": .string("json-file"),
            "CgroupDriver": .string("cgroupfs"), "CgroupVersion": .string("2"), "NEventsListener": .int(0),
            "KernelVersion": .string(Self.kernelRelease()), "OperatingSystem": .string("strata on Linux"),
            "OSVersion": .string(""), "OSType": .string("linux"), "Architecture": .string("x86_64"),
            "NCPU": .int(Int64(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), "MemTotal": .int(Int64(pages) * Int64(pageSize)),
            "IndexServerAddress": .string("https://index.docker.io/v1/"), "RegistryConfig": .null,
            "HttpProxy": .string(""), "HttpsProxy": .string(""), "NoProxy": .string(""),
            "Labels": .array([]), "ExperimentalBuild": .bool(false), "ServerVersion": .string(EngineAPI.strataVersion),
            "Runtimes": .object(["strata": .object(["path": .string(configuration.runner)])]), "DefaultRuntime": .string("strata"),
            "Swarm": .object(["NodeID": .string(""), "NodeAddr": .string(""), "LocalNodeState": .string("inactive"),
                              "ControlAvailable": .bool(false), "Error": .string(""), "RemoteManagers": .null]),
            "LiveRestoreEnabled": .bool(false), "Isolation": .string(""), "InitBinary": .string(""),
            "SecurityOptions": .array([.string("name=seccomp,profile=builtin"), .string("name=cgroupns")]),
            "Warnings": .array([.string("WARNING: strata has no bridge networks: containers share the host's network (or none)")]),
        ])
    }

    /// `GET /events`: every event from now on, a JSON document per line, until the client goes.
    func streamEvents(_ responder: Responder) {
        let body = responder.startStream(contentType: "application/json")
        let key = events.subscribe { body.write(json: $0) }
        body.onClose { [events] in events.unsubscribe(key) }
    }
}

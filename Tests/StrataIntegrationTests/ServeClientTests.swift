import Foundation
import StrataJSON
import Testing

/// `strata serve` under other clients and conditions: docker-py, fifty runs at once, a
/// restart, bad requests, and a registry.
@Suite(.serialized) struct ServeClientTests {
    func fixture() throws -> ServeFixture {
        guard ServeFixture.dockerCLI != nil else { throw ServeFailure("the docker CLI is not installed") }
        return try ServeFixture()
    }

    @Test func dockerPy() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        let result = try serve.python("""
        out = client.containers.run('busybox', ['sh', '-c', 'echo hello; echo err >&2'], remove=True)
        assert out == b'hello\\n', out
        c = client.containers.run('busybox', ['sh', '-c', 'echo bg; echo bg-err >&2; exit 7'], detach=True, name='py-bg')
        assert c.wait()['StatusCode'] == 7
        assert c.logs() == b'bg\\nbg-err\\n', c.logs()
        assert c.logs(stderr=False) == b'bg\\n', c.logs(stderr=False)
        c.reload()
        assert c.status == 'exited', c.status
        assert c.attrs['State']['ExitCode'] == 7
        names = [x.name for x in client.containers.list(all=True)]
        assert names == ['py-bg'], names
        assert client.containers.list() == []
        c.remove()
        s = client.containers.run('busybox', ['sleep', '60'], detach=True)
        r = s.exec_run(['sh', '-c', 'echo x; exit 2'])
        assert r.exit_code == 2 and r.output == b'x\\n', r
        assert [x.id for x in client.containers.list()] == [s.id]
        s.remove(force=True)
        tags = [i.tags for i in client.images.list()]
        assert tags == [['busybox:latest']], tags
        v = client.volumes.create('pyvol')
        assert v.name == 'pyvol'
        assert [x.name for x in client.volumes.list()] == ['pyvol']
        v.remove()
        try:
            client.containers.get('nope')
            raise SystemExit('no error for a missing container')
        except docker.errors.NotFound as e:
            assert 'No such container: nope' in str(e), e
        try:
            client.containers.run('busybox', ['no-such-command'], remove=True)
            raise SystemExit('no error for a missing command')
        except docker.errors.APIError as e:
            assert 'executable file not found' in str(e), e
        print('ok')
        """)
        #expect(result.stdout == "ok\n", "\(result.stdout) \(result.stderr) \(serve.logText)")
    }

    @Test func fiftyConcurrentRuns() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        // Fifty client processes at once, each read to its end: the daemon takes them all together.
        var running: [(Process, Pipe, Pipe)] = []
        for index in 0..<50 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ServeFixture.dockerCLI!)
            process.arguments = ["run", "--rm", "busybox", "sh", "-c", "echo run-\(index)"]
            process.environment = serve.environment
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            running.append((process, out, err))
        }
        for (index, (process, out, err)) in running.enumerated() {
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0 && stdout == "run-\(index)\n", "run \(index): \(process.terminationStatus) \(stdout) \(stderr)")
        }
        #expect(serve.docker(["ps", "-aq"]).stdout == "", "every --rm container is gone")
        // All fifty shared one manifest and lockfile: the same image and settings.
        let lockfiles = (try? FileManager.default.contentsOfDirectory(atPath: serve.harness.store + "/containers/lockfiles")) ?? []
        #expect(lockfiles.count == 1, "\(lockfiles)")
    }

    @Test func aRestartKeepsContainersImagesAndVolumes() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        #expect(serve.docker(["volume", "create", "kept"]).status == 0)
        #expect(serve.docker(["run", "--name", "done", "-v", "kept:/data", "busybox", "sh", "-c", "echo data > /data/f; echo log-line"]).status == 0)
        #expect(serve.docker(["run", "-d", "--name", "long", "busybox", "sleep", "600"]).status == 0)
        #expect(serve.docker(["commit", "done", "kept-image:1"]).status == 0)
        // SIGTERM: running containers are stopped, the daemon exits 0, the store keeps the rest.
        #expect(serve.stop() == 0, "\(serve.logText)")
        #expect(!FileManager.default.fileExists(atPath: serve.socket), "the socket is removed on the way out")
        try serve.start()
        let ps = serve.docker(["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        #expect(ps.stdout.split(separator: "\n").sorted() == ["done exited", "long exited"], "\(ps.stdout) \(ps.stderr)")
        #expect(serve.docker(["logs", "done"]).stdout == "log-line\n")
        #expect(serve.docker(["inspect", "--format", "{{.State.ExitCode}}", "done"]).stdout == "0\n")
        #expect(serve.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout.contains("kept-image:1"))
        #expect(serve.docker(["run", "--rm", "-v", "kept:/data", "busybox", "cat", "/data/f"]).stdout == "data\n")
        // A stopped container starts again after the restart.
        #expect(serve.docker(["start", "long"]).status == 0)
        #expect(serve.docker(["inspect", "--format", "{{.State.Running}}", "long"]).stdout == "true\n")
        #expect(serve.docker(["rm", "-f", "long", "done"]).status == 0)
    }

    @Test func badRequestsGetDockersErrorsAndTheDaemonKeepsServing() throws {
        let serve = try fixture()
        defer { serve.cleanup() }
        func request(_ method: String, _ path: String, body: String? = nil) -> (status: String, body: String) {
            var arguments = ["-s", "-X", method, "-w", "\n%{http_code}", "-H", "Content-Type: application/json"]
            if let body { arguments += ["--data-binary", body] }
            let result = serve.curl(arguments + ["http://d" + path])
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
        }
        func message(_ text: String) -> String? { (try? JSON.parse(Array(text.utf8)))?["message"]?.stringValue }

        let malformed = request("POST", "/v1.44/containers/create", body: "{\"Image\": \"busybox\",")
        #expect(malformed.status == "400", "\(malformed)")
        #expect(message(malformed.body)?.contains("invalid JSON") == true, "\(malformed)")
        let wrongType = request("POST", "/containers/create", body: "{\"Image\": \"busybox\", \"Cmd\": 5}")
        #expect(wrongType.status == "400" && message(wrongType.body)?.contains("Cmd") == true, "\(wrongType)")
        let privileged = request("POST", "/containers/create", body: "{\"Image\": \"busybox\", \"HostConfig\": {\"Privileged\": true}}")
        #expect(privileged.status == "400", "\(privileged)")
        let network = request("POST", "/containers/create", body: "{\"Image\": \"busybox\", \"HostConfig\": {\"NetworkMode\": \"mynet\"}}")
        #expect(network.status == "404" && message(network.body)?.contains("network mynet not found") == true, "\(network)")
        let noImage = request("POST", "/containers/create", body: "{\"Image\": \"nothere\"}")
        #expect(noImage.status == "404" && message(noImage.body) == "No such image: nothere:latest", "\(noImage)")
        let noContainer = request("GET", "/containers/nothere/json")
        #expect(noContainer.status == "404" && message(noContainer.body) == "No such container: nothere", "\(noContainer)")
        #expect(request("POST", "/containers/nothere/start").status == "404")
        #expect(request("DELETE", "/containers/nothere").status == "404")
        let noImageInspect = request("GET", "/images/nothere/json")
        #expect(noImageInspect.status == "404" && message(noImageInspect.body) == "No such image: nothere", "\(noImageInspect)")
        #expect(request("GET", "/no/such/endpoint").status == "404")
        #expect(request("GET", "/containers/create").status == "405")
        let badName = request("POST", "/containers/create?name=bad%20name", body: "{\"Image\": \"busybox\"}")
        #expect(badName.status == "400" && message(badName.body)?.hasPrefix("Invalid container name") == true, "\(badName)")
        #expect(serve.docker(["create", "--name", "taken", "busybox", "true"]).status == 0)
        let taken = request("POST", "/containers/create?name=taken", body: "{\"Image\": \"busybox\"}")
        #expect(taken.status == "409" && message(taken.body)?.contains("already in use") == true, "\(taken)")

        // Half a request, then the connection closes: the daemon carries on.
        let closed = Harness.exec(["/usr/bin/python3", "-c", """
        import socket, sys
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
        s.sendall(b'POST /containers/create HTTP/1.1\\r\\nHost: d\\r\\nContent-Length: 500\\r\\n\\r\\n{"Image"'); s.close()
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
        s.sendall(b'POST /containers/taken/attach?stream=1&stdout=1 HTTP/1.1\\r\\nHost: d\\r\\nUpgrade: tcp\\r\\nConnection: Upgrade\\r\\n\\r\\n'); s.close()
        """, serve.socket], cwd: "/", env: [:])
        #expect(closed.status == 0, "\(closed.stderr)")
        #expect(serve.curl(["-s", "http://d/_ping"]).stdout == "OK")
        #expect(serve.docker(["run", "--rm", "busybox", "echo", "still serving"]).stdout == "still serving\n")
        #expect(serve.docker(["rm", "taken"]).status == 0)
    }

    @Test func pullAndPushThroughTheLocalRegistry() throws {
        guard TestRegistry.installed() else { return }
        let serve = try fixture()
        defer { serve.cleanup() }
        let registry = try TestRegistry(in: serve.harness.project + "/registry")
        defer { registry.stop() }
        #expect(registry.push(serve.harness, to: "team/box:1").status == 0)
        let pull = serve.docker(["pull", "\(registry.host)/team/box:1"])
        #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
        #expect(pull.stdout.contains("Downloaded newer image for \(registry.host)/team/box:1"), "\(pull.stdout)")
        #expect(serve.docker(["run", "--rm", "\(registry.host)/team/box:1", "echo", "pulled"]).stdout == "pulled\n")
        #expect(serve.docker(["tag", "busybox", "\(registry.host)/team/pushed:2"]).status == 0)
        let push = serve.docker(["push", "\(registry.host)/team/pushed:2"])
        #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
        #expect(push.stdout.contains("digest: sha256:"), "\(push.stdout)")
        // What was pushed comes back: pulled again under the same name, after the local tag is gone.
        #expect(serve.docker(["rmi", "\(registry.host)/team/pushed:2"]).status == 0)
        #expect(serve.docker(["pull", "\(registry.host)/team/pushed:2"]).status == 0)
        let missing = serve.docker(["pull", "\(registry.host)/team/nothere:1"])
        #expect(missing.status != 0, "\(missing.stdout)")
    }
}


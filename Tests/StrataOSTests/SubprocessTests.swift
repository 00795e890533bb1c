import Glibc
import Testing
import StrataOS

@Suite("Running programs")
struct SubprocessTests {
    @Test("input in, standard output and a further descriptor out, the exit code kept")
    func inputAndOutputs() throws {
        var process = Subprocess(executable: "/bin/sh", arguments: ["-c", "cat; echo status >&3; echo oops >&2; exit 3"],
                                 environment: ["PATH=/usr/bin:/bin"])
        process.standardInput = .bytes(Array(repeating: UInt8(ascii: "x"), count: 1 << 20))
        process.standardError = .capture
        process.capturedDescriptors = [3]
        let outcome = try process.run()
        #expect(outcome.exitCode == 3)
        #expect(outcome.signal == nil)
        #expect(outcome.standardOutput.count == 1 << 20, "a megabyte through a pipe, in and out, without a deadlock")
        #expect(outcome.captured[3] == Array("status\n".utf8))
        #expect(outcome.standardError == Array("oops\n".utf8))
        #expect(outcome.ending == "exited with status 3")
    }

    @Test("only the given environment reaches the program")
    func environmentIsExactlyGiven() throws {
        let process = Subprocess(executable: "/usr/bin/env", arguments: [], environment: ["ONLY=this"])
        #expect(try process.run().standardOutput == Array("ONLY=this\n".utf8))
    }

    @Test("a program that stops reading its input early is no harm to strata")
    func earlyExitWithInput() throws {
        var process = Subprocess(executable: "/bin/true", arguments: [], environment: [])
        process.standardInput = .bytes(Array(repeating: 0, count: 8 << 20))
        #expect(try process.run().succeeded)
    }

    @Test("a signal is reported as such; a missing program is ENOENT")
    func signalAndMissing() throws {
        let killed = try Subprocess(executable: "/bin/sh", arguments: ["-c", "kill -9 $$"], environment: []).run()
        #expect(killed.signal == SIGKILL)
        #expect(killed.ending == "was killed by signal 9")
        #expect {
            _ = try Subprocess(executable: "/nonexistent/tool", arguments: [], environment: []).run()
        } throws: { error in
            (error as? SystemError)?.errno == ENOENT
        }
    }

    @Test("a name is found in the PATH given, not in strata's own")
    func locate() {
        #expect(Subprocess.locate("sh", searchPath: "/nonexistent:/bin") == "/bin/sh")
        #expect(Subprocess.locate("sh", searchPath: "/nonexistent") == nil)
        #expect(Subprocess.locate("/bin/sh", searchPath: "") == "/bin/sh")
    }
}

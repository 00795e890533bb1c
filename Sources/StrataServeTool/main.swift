import Glibc
import StrataEnvironment
import StrataOS
import StrataServe
import StrataStore

// `strata-serve`: the daemon behind `strata serve`, which execs it with its options
// checked. Its own process so that SwiftNIO's start-up never lands on `strata run`.
//
//     strata-serve --runner STRATA --socket PATH [--root DIR] [--listen HOST:PORT]

func fail(_ message: String) -> Never {
    let line = "strata serve: " + message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func say(_ line: String) {
    let text = "strata serve: " + line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

// SIGTERM and SIGINT are taken by one thread with sigwait: blocked here, before any other
// thread exists, so that every thread inherits the block (whatever mask the caller left).
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
sigaddset(&stopSignals, SIGTERM)
sigaddset(&stopSignals, SIGINT)
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
signal(SIGPIPE, SIG_IGN)

// `strata-serve client --socket PATH -- ARGS…`: what `strata ARGS` does with STRATA_HOST set.
if CommandLine.arguments.count >= 5, CommandLine.arguments[1] == "client", CommandLine.arguments[2] == "--socket",
   CommandLine.arguments[4] == "--" {
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    var environment: [String] = []
    var entry = environ
    while let text = entry.pointee {
        environment.append(String(cString: text))
        entry += 1
    }
    let directory: String = {
        guard let path = getcwd(nil, 0) else { return "/" }
        defer { free(path) }
        return String(cString: path)
    }()
    var size: (rows: UInt16, columns: UInt16)?
    var saved = termios()
    let terminal = isatty(0) != 0 && isatty(1) != 0 && tcgetattr(0, &saved) == 0
    if terminal {
        var window = winsize()
        _ = ioctl(1, UInt(TIOCGWINSZ), &window)
        size = (window.ws_row, window.ws_col)
        // Raw: every key (Ctrl-C too) goes to the command's terminal in the daemon.
        var raw = saved
        cfmakeraw(&raw)
        tcsetattr(0, TCSADRAIN, &raw)
    }
    // SIGWINCH blocked here (before the client's threads) and taken by a thread of its own.
    var windowSignal = sigset_t()
    sigemptyset(&windowSignal)
    sigaddset(&windowSignal, SIGWINCH)
    if terminal { pthread_sigmask(SIG_BLOCK, &windowSignal, nil) }
    let watched = windowSignal
    let watchSize: @Sendable (@escaping @Sendable (UInt16, UInt16) -> Void) -> Void = { send in
        do {
            try DetachedThread.start {
                var set = watched
                var received: Int32 = 0
                while sigwait(&set, &received) == 0 {
                    var window = winsize()
                    if ioctl(1, UInt(TIOCGWINSZ), &window) == 0 { send(window.ws_row, window.ws_col) }
                }
            }
        } catch {
            say("the terminal's size will not follow yours: \(error)")
        }
    }
    let code = CLIClient.run(CLIClient.Invocation(
        socket: CommandLine.arguments[3], arguments: Array(CommandLine.arguments.dropFirst(5)), workingDirectory: directory,
        environment: environment, terminal: size, watchSize: terminal ? watchSize : nil))
    if terminal { tcsetattr(0, TCSADRAIN, &saved) }
    exit(code)
}

var options: [String: String] = [:]
var words = CommandLine.arguments.dropFirst()
while let word = words.popFirst() {
    guard ["--runner", "--socket", "--root", "--listen"].contains(word), let value = words.popFirst() else {
        fail("strata-serve takes --runner, --socket, --root and --listen, each with a value; run it as `strata serve`")
    }
    options[String(word.dropFirst(2))] = value
}
guard let runner = options["runner"], let socket = options["socket"] else { fail("strata-serve needs --runner and --socket; run it as `strata serve`") }

var variables: [String: String] = [:]
var environment: [String] = []
var pointer = environ
while let entry = pointer.pointee {
    let text = String(cString: entry)
    environment.append(text)
    if let equals = text.firstIndex(of: "=") { variables[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
    pointer += 1
}
let workingDirectory: String = {
    guard let path = getcwd(nil, 0) else { return "/" }
    defer { free(path) }
    return String(cString: path)
}()
let root = EnvironmentPaths.absolute(options["root"] ?? Store.defaultRoot(environment: variables), from: workingDirectory)
var tcp: (host: String, port: Int)?
if let listen = options["listen"] {
    guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), port > 0, port < 65536,
          colon != listen.startIndex else { fail("--listen takes HOST:PORT, such as 127.0.0.1:2375") }
    tcp = (String(listen[..<colon]), port)
}

do {
    let configuration = ServeConfiguration(storeRoot: root, runner: runner, runnerEnvironment: environment, variables: variables,
                                           log: { say($0) }, fetchTool: variables["STRATA_FETCH"])
    let server = try APIServer(configuration: configuration)
    let group = getgrnam("strata").map { $0.pointee.gr_gid }
    try server.listen(socket: EnvironmentPaths.absolute(socket, from: workingDirectory), group: group, tcp: tcp)
    let waited = stopSignals
    try DetachedThread.start {
        var set = waited
        var received: Int32 = 0
        sigwait(&set, &received)
        server.shutdown()
    }
    server.wait()
} catch let error as StrataError {
    fail(error.description)
} catch {
    fail("\(error)")
}

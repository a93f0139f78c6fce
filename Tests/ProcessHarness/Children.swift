import Foundation
import Synchronization

/// Every process and temporary folder the harness started in this process, so that any way
/// out (a finished test, a failed one, `exit`, SIGINT/SIGTERM/SIGHUP once
/// `installSignalCleanup` ran) still kills them and removes the folders. Only process ids
/// recorded here are ever signalled.
public final class Children: Sendable {
    /// The one registry of this process.
    public static let shared = Children()

    private struct Items {
        var pids: Set<Int32> = []
        var directories: Set<String> = []
        var isExitHookInstalled = false
    }
    private let items = Mutex(Items())

    /// A registry of its own (tests of the harness); everything else uses `shared`.
    public init() {}
    // nonisolated(unsafe): dispatch sources are not Sendable; this array only keeps them alive,
    // is appended to under `items`' lock and never read.
    nonisolated(unsafe) private var signalSources: [any DispatchSourceSignal] = []

    /// Records a started process (and, the first time, installs the exit-time cleanup).
    public func add(pid: Int32) {
        let installs = items.withLock { items -> Bool in
            items.pids.insert(pid)
            defer { items.isExitHookInstalled = true }
            return !items.isExitHookInstalled
        }
        if installs && self === Children.shared { atexit { Children.shared.killAll(removingDirectories: false) } }
    }

    /// Forgets a process that was reaped.
    public func remove(pid: Int32) { items.withLock { _ = $0.pids.remove(pid) } }
    /// Records a temporary folder.
    public func add(directory: String) { items.withLock { _ = $0.directories.insert(directory) } }
    /// Forgets a folder that was removed (or is to be kept).
    public func remove(directory: String) { items.withLock { _ = $0.directories.remove(directory) } }

    /// SIGKILLs every recorded process and, with `removingDirectories`, removes every recorded folder.
    public func killAll(removingDirectories: Bool = true) {
        let (pids, directories) = items.withLock { items in
            defer { items.pids = []; if removingDirectories { items.directories = [] } }
            return (items.pids, items.directories)
        }
        for pid in pids.sorted() { kill(pid, SIGKILL) }
        guard removingDirectories else { return }
        for directory in directories.sorted() { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// On SIGINT, SIGTERM or SIGHUP: `note` the signal, kill everything, exit 128+signal (for
    /// benchmarks, which a person may interrupt).
    public func installSignalCleanup(note: @escaping @Sendable (String) -> Void) {
        let sources = [SIGINT, SIGTERM, SIGHUP].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                note("signal \(number): cleaning up")
                Children.shared.killAll()
                exit(128 + number)
            }
            source.resume()
            return source
        }
        items.withLock { _ in signalSources += sources }
    }
}

/// A child process with its output going to a log file (or a pipe the caller reads), recorded
/// in `Children` from start to reap.
public final class ChildProcess: Sendable {
    /// The process.
    public let process: Process
    /// Its standard input (a pipe; closing it is end of input).
    public let input: Pipe
    private let registry: Children

    /// Starts `executable` with `arguments`; standard error (and standard output unless
    /// `output` is given) appended to `logPath`. `wrapper` runs first and execs the executable
    /// (e.g. `prlimit --nofile=1024:1024 --`), so the process id stays the child's. With
    /// `diesWithParent`, the child is started through `setpriv --pdeathsig KILL` when that
    /// exists, so it dies even if this process is SIGKILLed (start it from a thread that lives
    /// as long as the child: the main thread of a benchmark).
    public init(_ executable: String, _ arguments: [String], logPath: String, output: Pipe? = nil,
                wrapper: [String] = [], diesWithParent: Bool = false, registry: Children = .shared) throws {
        signal(SIGPIPE, SIG_IGN) // a pipe to a killed child must fail, not kill this process
        process = Process()
        var command = wrapper + [executable] + arguments
        if diesWithParent, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            command = ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"] + command
        }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        input = Pipe()
        process.standardInput = input
        process.standardOutput = output ?? log
        process.standardError = log
        try process.run()
        self.registry = registry
        registry.add(pid: process.processIdentifier)
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }
    /// Whether it still runs.
    public var isRunning: Bool { process.isRunning }

    /// SIGKILL, then wait (at most 5 s: Foundation's reaping of a killed child has been seen
    /// to hang under load) until it is gone.
    public func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        registry.remove(pid: process.processIdentifier)
    }

    /// SIGTERM, then wait up to `timeoutMillis` for the exit status; past it, SIGKILL and nil.
    public func terminate(timeoutMillis: Int = 5_000) -> Int32? {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
        guard let status = wait(timeoutMillis: timeoutMillis) else {
            kill()
            return nil
        }
        return status
    }

    /// Waits up to `timeoutMillis` for the exit; the status, or nil while it still runs.
    public func wait(timeoutMillis: Int) -> Int32? {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        guard !process.isRunning else { return nil }
        process.waitUntilExit()
        registry.remove(pid: process.processIdentifier)
        return process.terminationStatus
    }
}

/// Runs `executable` with `arguments` to its exit (SIGKILLed after `timeoutSeconds`: the
/// status is then -1), its input empty; returns the status and what it wrote on each stream
/// (with `mergingOutput`, both streams in `stdout`, in order). Output goes through temporary
/// files, so a chatty child never blocks on a full pipe. `directory`: its working directory.
public func runToExit(_ executable: String, _ arguments: [String], timeoutSeconds: Double = 20, mergingOutput: Bool = false,
                      in directory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let folder = try makeTemporaryDirectory(prefix: "run")
    defer {
        try? FileManager.default.removeItem(atPath: folder)
        Children.shared.remove(directory: folder)
    }
    let outPath = folder + "/stdout", errPath = folder + "/stderr"
    for path in [outPath, errPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardOutput = out
    process.standardError = mergingOutput ? out : try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    Children.shared.add(pid: process.processIdentifier)
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    let wasKilled = process.isRunning
    if wasKilled { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    Children.shared.remove(pid: process.processIdentifier)
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return (wasKilled ? -1 : process.terminationStatus, read(outPath), read(errPath))
}

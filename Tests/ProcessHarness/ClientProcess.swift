import Foundation
import Synchronization

/// A running `client --json` process: commands go to its standard input, and each answer is
/// the next JSON line on its standard output. Recorded in `Children`; killed in `stop()`.
public final class ClientProcess: Sendable {
    /// Where it serves pieces.
    public let port: UInt16
    /// Its `--state-dir`.
    public let stateDirectory: String
    /// Its standard error.
    public let logPath: String
    /// How long `run` waits for an answer unless told otherwise.
    public let answerTimeoutMillis: Int
    private let child: ChildProcess
    private let output = LineBuffer()

    /// Starts `client 127.0.0.1:<port> <confPath> --json --state-dir <folder>/state-<name>`
    /// plus `extraArguments`, logging to `<folder>/client-<name>-<port>.log`.
    public init(confPath: String, folder: String, name: String, extraArguments: [String] = [], port: UInt16? = nil,
                binary: String = executablePath("client"), diesWithParent: Bool = true, answerTimeoutMillis: Int = 30_000) throws {
        self.port = try port ?? freePort()
        self.answerTimeoutMillis = answerTimeoutMillis
        stateDirectory = folder + "/state-\(name)"
        logPath = folder + "/client-\(name)-\(self.port).log"
        let pipe = Pipe()
        child = try ChildProcess(binary, ["127.0.0.1:\(self.port)", confPath, "--json", "--state-dir", stateDirectory] + extraArguments,
                                 logPath: logPath, output: pipe, diesWithParent: diesWithParent)
        output.startReading(pipe.fileHandleForReading)
    }

    /// A client of `cluster`, its files in the cluster's folder (`--insecure` when the cluster is).
    public convenience init(cluster: TrackerCluster, name: String, extraArguments: [String] = [], port: UInt16? = nil) throws {
        try self.init(confPath: cluster.confPath, folder: cluster.directory, name: name,
                      extraArguments: (cluster.isInsecure ? ["--insecure"] : []) + extraArguments, port: port)
    }

    /// Sends one command line and returns its JSON answer; `["ok": false, "error": …]` when the
    /// client exited or no answer came within `timeoutMillis` (`answerTimeoutMillis` by default).
    @discardableResult
    public func run(_ command: String, timeoutMillis: Int? = nil) -> [String: Any] {
        let timeoutMillis = timeoutMillis ?? answerTimeoutMillis
        if let gone = exitReport() { return ["ok": false, "error": gone] }
        do {
            try child.input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        } catch {
            return ["ok": false, "error": "the client process is gone (\(error))"]
        }
        let deadline = DispatchTime.now() + .milliseconds(timeoutMillis)
        while true {
            if let line = output.next() {
                transcribe(line)
                return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["unparsed": line]
            }
            if let gone = exitReport(), output.isDrained { return ["ok": false, "error": gone] }
            // Wake at least every 100 ms to notice a client that died without answering.
            if output.arrived.wait(timeout: min(deadline, .now() + .milliseconds(100))) == .timedOut, DispatchTime.now() >= deadline {
                return ["ok": false, "error": "no answer to '\(command.split(separator: " ").first ?? "")' within \(timeoutMillis) ms"]
            }
        }
    }

    /// With CLIENT_TRANSCRIPT set, appends each answer to that file (for writing docs from a run).
    private func transcribe(_ line: String) {
        guard let path = ProcessInfo.processInfo.environment["CLIENT_TRANSCRIPT"] else { return }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        guard descriptor >= 0 else { return }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }

    /// Why the client is gone (it exited, with its status), or nil while it runs.
    /// A client killed by a signal (a trap) also shows the end of its log, where Swift's
    /// runtime wrote the reason and the line.
    public func exitReport() -> String? {
        guard !child.isRunning else { return nil }
        let report = "the client process exited with status \(child.process.terminationStatus)"
        guard child.process.terminationReason == .uncaughtSignal else { return report }
        return report + " (signal); its log ends: " + Self.logTail(logPath)
    }

    static func logTail(_ path: String, bytes: Int = 1_500) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "(no log)" }
        return String(decoding: data.suffix(bytes), as: UTF8.self)
    }

    /// Runs a command and returns whether it answered ok.
    public func ok(_ command: String) -> Bool { run(command)["ok"] as? Bool == true }

    /// Runs a command that must fail and returns its error message ("" if it succeeded).
    public func error(_ command: String) -> String { run(command)["error"] as? String ?? "" }

    /// Runs a command that must succeed.
    public func must(_ command: String, timeoutMillis: Int? = nil) throws {
        let answer = run(command, timeoutMillis: timeoutMillis)
        guard answer["ok"] as? Bool == true else { throw HarnessError("\(command.split(separator: " ").first ?? ""): \(answer)") }
    }

    /// Polls `show_downloads` until the download of `fileName` is no longer running.
    public func waitForDownload(_ fileName: String, timeoutMillis: Int = 60_000, pollMillis: Int = 100) -> [String: Any] {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            if let entry = download(fileName), entry["state"] as? String != "downloading" { return entry }
            usleep(UInt32(max(1, pollMillis)) * 1_000)
        }
        return download(fileName) ?? [:]
    }

    /// The `show_downloads` entry of `fileName`.
    public func download(_ fileName: String) -> [String: Any]? {
        let entries = run("show_downloads")["downloads"] as? [[String: Any]] ?? []
        return entries.first { $0["file"] as? String == fileName }
    }

    /// Closes standard input (end of input) and waits for the exit status.
    public func closeInput(timeoutMillis: Int = 30_000) -> Int32? {
        child.input.fileHandleForWriting.closeFile()
        return wait(timeoutMillis: timeoutMillis)
    }

    /// Waits up to `timeoutMillis` for the exit status.
    public func wait(timeoutMillis: Int) -> Int32? { child.wait(timeoutMillis: timeoutMillis) }

    /// The process id.
    public var pid: Int32 { child.pid }

    /// Whether the process is still running (it has not exited or crashed).
    public var isRunning: Bool { child.isRunning }

    /// Its standard error so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM (without waiting).
    public func terminate() {
        if child.isRunning { Glibc.kill(child.pid, SIGTERM) }
    }

    /// SIGKILL, then reap.
    public func kill() { child.kill() }

    /// Kills the client.
    public func stop() { kill() }
}

/// Lines read from a process's standard output by a thread of their own, and a signal per line.
final class LineBuffer: Sendable {
    private let lines = Mutex<(items: [String], isClosed: Bool)>(([], false))
    let arrived = DispatchSemaphore(value: 0)

    func next() -> String? { lines.withLock { $0.items.isEmpty ? nil : $0.items.removeFirst() } }
    var isDrained: Bool { lines.withLock { $0.isClosed && $0.items.isEmpty } }

    func startReading(_ reader: FileHandle) {
        let descriptor = reader.fileDescriptor
        let thread = Thread { [self] in
            withExtendedLifetime(reader) {
                var pending: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    pending += chunk[0..<count]
                    while let newline = pending.firstIndex(of: 0x0A) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        lines.withLock { $0.items.append(line) }
                        arrived.signal()
                    }
                }
            }
            lines.withLock { $0.isClosed = true }
            arrived.signal()
        }
        thread.name = "child-output"
        thread.start()
    }
}

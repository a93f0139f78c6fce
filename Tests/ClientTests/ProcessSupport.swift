import Foundation
import Hashing
import Networking
import Synchronization
import TrackerClient
import TrackerProtocol

/// A built executable beside the test bundle (swift test builds every product).
func builtBinary(_ name: String) -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var candidate = bundle
    for _ in 0..<4 {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        candidate = candidate.deletingLastPathComponent()
    }
    return bundle.appendingPathComponent(name).path
}

/// A free TCP port on 127.0.0.1 (the kernel's choice).
func freePort() throws -> UInt16 {
    let socket = try Socket.listen(host: "127.0.0.1", port: 0)
    defer { socket.close() }
    return try socket.localPort
}

/// Three real `tracker-node` processes on 127.0.0.1 with free ports in a temporary folder, the
/// pattern of TrackerNodeTests' ProcessCluster. `stop()` kills them and removes the folder.
/// By default every tracker's identity is made first and cluster.conf pins it (TLS everywhere);
/// `isInsecure` runs trackers and clients with `--insecure` (plaintext) instead.
final class TrackerCluster: Sendable {
    let directory: String
    let ids: [TrackerID]
    let ports: [TrackerID: UInt16]
    private let processes = Mutex<[TrackerID: Process]>([:])
    /// Whether trackers and clients run with `--insecure`.
    let isInsecure: Bool
    /// Each tracker's pinned fingerprint (empty when insecure).
    let fingerprints: [TrackerID: CertificateFingerprint]

    init(size: Int = 3, isInsecure: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("client-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        ids = (1...UInt64(size)).map { $0 }
        var ports: [TrackerID: UInt16] = [:]
        for id in ids { ports[id] = try freePort() }
        self.ports = ports
        self.isInsecure = isInsecure
        var fingerprints: [TrackerID: CertificateFingerprint] = [:]
        if !isInsecure {
            for id in ids {
                fingerprints[id] = try TLSIdentity.loadOrCreate(directory: directory + "/data-\(id)", commonName: "tracker-\(id)").fingerprint
            }
        }
        self.fingerprints = fingerprints
        let conf = ids.map { id in "\(id) 127.0.0.1:\(ports[id]!)" + (fingerprints[id].map { " \($0)" } ?? "") }
            .joined(separator: "\n") + "\n"
        try conf.write(toFile: confPath, atomically: true, encoding: .utf8)
        // The cluster key every tracker requires: 256 random bits as hex, readable by us only.
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        guard FileManager.default.createFile(atPath: directory + "/cluster.key", contents: Data((key + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else { throw CocoaError(.fileWriteUnknown) }
        for id in ids { try start(id) }
    }

    var confPath: String { directory + "/cluster.conf" }

    func start(_ id: TrackerID) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: builtBinary("tracker-node"))
        process.arguments = ["--conf", confPath, "--id", "\(id)", "--data-dir", directory + "/data-\(id)"] + (isInsecure ? ["--insecure"] : [])
        let logPath = directory + "/tracker-\(id).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = log
        process.standardOutput = log
        process.standardInput = Pipe()
        try process.run()
        processes.withLock { $0[id] = process }
    }

    /// SIGKILL one tracker, waiting (at most 5 s: Foundation's reaping of a killed child has
    /// been seen to hang under load) until it is gone.
    func kill(_ id: TrackerID) {
        guard let process = processes.withLock({ $0.removeValue(forKey: id) }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
    }

    func stop() {
        for id in ids { kill(id) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The current leader, waiting up to `timeoutMillis` for one.
    func leader(timeoutMillis: Int = 10_000) throws -> TrackerID? {
        let config = try ClusterConfig.load(path: confPath)
        let client = try TrackerClient(cluster: config)
        defer { client.close() }
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            let running = processes.withLock { Set($0.keys) }
            let statuses = config.trackers.filter { running.contains($0.id) }.compactMap { try? client.status(of: $0).get() }
            let leaders = statuses.filter { $0.role == .leader }
            if leaders.count == 1, let leader = leaders.first, statuses.allSatisfy({ $0.term <= leader.term }) { return leader.id }
            usleep(20_000)
        }
        return nil
    }
}

/// A running `client --json` process: commands go to its standard input, and each answer is
/// the next JSON line on its standard output. Killed in `stop()`.
final class ClientProcess: Sendable {
    let port: UInt16
    let stateDirectory: String
    let logPath: String
    private let process: Process
    private let input: Pipe
    private let output = LineBuffer()

    init(cluster: TrackerCluster, name: String, extraArguments: [String] = [], port: UInt16? = nil) throws {
        self.port = try port ?? freePort()
        stateDirectory = cluster.directory + "/state-\(name)"
        logPath = cluster.directory + "/client-\(name)-\(self.port).log"
        signal(SIGPIPE, SIG_IGN) // writes to a client that exited must fail, not kill the test run
        process = Process()
        process.executableURL = URL(fileURLWithPath: builtBinary("client"))
        process.arguments = ["127.0.0.1:\(self.port)", cluster.confPath, "--json", "--state-dir", stateDirectory]
            + (cluster.isInsecure ? ["--insecure"] : []) + extraArguments
        input = Pipe()
        let output = Pipe()
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = log
        try process.run()
        let reader = output.fileHandleForReading
        let thread = Thread { [buffer = self.output] in
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    buffer.lines.withLock { $0.append(line) }
                    buffer.arrived.signal()
                }
            }
        }
        thread.start()
    }

    /// Sends one command line and returns its JSON answer (empty when none came in time).
    @discardableResult
    func run(_ command: String, timeoutMillis: Int = 30_000) -> [String: Any] {
        // A client that already exited must not kill the test run with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        try? input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        let deadline = DispatchTime.now() + .milliseconds(timeoutMillis)
        while true {
            if let line = output.lines.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["unparsed": line]
            }
            if output.arrived.wait(timeout: deadline) == .timedOut { return [:] }
        }
    }

    /// Runs a command and returns whether it answered ok.
    func ok(_ command: String) -> Bool { run(command)["ok"] as? Bool == true }

    /// Runs a command that must fail and returns its error message ("" if it succeeded).
    func error(_ command: String) -> String { run(command)["error"] as? String ?? "" }

    /// Polls `show_downloads` until the download of `fileName` is no longer running.
    func waitForDownload(_ fileName: String, timeoutMillis: Int = 60_000) -> [String: Any] {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            if let entry = download(fileName), entry["state"] as? String != "downloading" { return entry }
            usleep(100_000)
        }
        return download(fileName) ?? [:]
    }

    /// The `show_downloads` entry of `fileName`.
    func download(_ fileName: String) -> [String: Any]? {
        let entries = run("show_downloads")["downloads"] as? [[String: Any]] ?? []
        return entries.first { $0["file"] as? String == fileName }
    }

    /// Closes standard input (end of input) and waits for the exit status.
    func closeInput(timeoutMillis: Int = 30_000) -> Int32? {
        input.fileHandleForWriting.closeFile()
        return wait(timeoutMillis: timeoutMillis)
    }

    func wait(timeoutMillis: Int) -> Int32? {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Whether the process is still running (it has not exited or crashed).
    var isRunning: Bool { process.isRunning }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM.
    func terminate() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
    }

    /// SIGKILL.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func stop() { kill() }
}

/// Lines read from a process's standard output, and a signal per line.
final class LineBuffer: Sendable {
    let lines = Mutex<[String]>([])
    let arrived = DispatchSemaphore(value: 0)
}

/// A file of `byteCount` random bytes in `directory`; returns its path.
func makeRandomFile(in directory: String, name: String, byteCount: Int) throws -> String {
    let path = directory + "/" + name
    var bytes = [UInt8](repeating: 0, count: byteCount)
    var generator = SystemRandomNumberGenerator()
    bytes.withUnsafeMutableBytes { raw in
        let words = raw.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = generator.next() }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// The hex SHA-1 of a file.
func sha1Hex(ofFileAt path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "missing" }
    return Hex.encode(SHA1.hash(Array(data)))
}

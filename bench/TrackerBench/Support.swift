import Foundation
import Networking
import Synchronization
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

/// Monotonic clock in nanoseconds.
func nowNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

func sleepMillis(_ millis: Int) {
    if millis > 0 { usleep(UInt32(millis) * 1_000) }
}

func stderrLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Every tracker process and temporary folder this run started, so that a signal or an early
/// exit still kills and removes them. Only pids recorded here are ever signalled.
final class Registry: Sendable {
    static let shared = Registry()
    private struct Items {
        var pids: Set<Int32> = []
        var directories: Set<String> = []
    }
    private let items = Mutex(Items())

    func add(pid: Int32) { items.withLock { _ = $0.pids.insert(pid) } }
    func remove(pid: Int32) { items.withLock { _ = $0.pids.remove(pid) } }
    func add(directory: String) { items.withLock { _ = $0.directories.insert(directory) } }
    func remove(directory: String) { items.withLock { _ = $0.directories.remove(directory) } }

    /// SIGKILL every recorded process and remove every recorded folder.
    func cleanUp() {
        let (pids, directories) = items.withLock { items in
            defer { items = Items() }
            return (items.pids, items.directories)
        }
        for pid in pids { kill(pid, SIGKILL) }
        for directory in directories { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// Holds the signal sources alive for the whole run.
final class SignalGuard: @unchecked Sendable {
    // @unchecked: the sources are created once, before any other thread starts, and never changed.
    static let shared = SignalGuard()
    private var sources: [any DispatchSourceSignal] = []

    func install() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                stderrLine("tracker-bench: signal \(number), cleaning up")
                Registry.shared.cleanUp()
                exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
        atexit { Registry.shared.cleanUp() }
    }
}

/// CPU seconds (user + system) a process used so far, from /proc/PID/stat; 0 when it is gone.
func processCPUSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU seconds this process (the load generator) used so far.
func selfCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Three `tracker-node` processes on 127.0.0.1 with free ports and a temporary folder.
/// Processes are started from the main thread through `setpriv --pdeathsig KILL` when available,
/// so they die with the benchmark even if it is itself killed with SIGKILL.
final class BenchCluster {
    let directory: String
    let ids: [TrackerID] = [1, 2, 3]
    let binary: String
    let extraArguments: [String]
    private(set) var processes: [TrackerID: Process] = [:]
    let config: ClusterConfig

    init(binary: String, extraArguments: [String]) throws {
        self.binary = binary
        self.extraArguments = extraArguments
        var template = Array((NSTemporaryDirectory() + "/tracker-bench-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("mkdtemp failed")
        }
        directory = String(cString: made)
        Registry.shared.add(directory: directory)
        var lines: [String] = []
        for id in ids {
            let socket = try Socket.listen(host: "127.0.0.1", port: 0)
            let port = try socket.localPort
            socket.close()
            // Pinned unless the trackers run in plaintext (what --print-fingerprint prints).
            let pin = extraArguments.contains("--insecure") ? ""
                : " " + (try TLSIdentity.loadOrCreate(directory: directory + "/data-\(id)", commonName: "tracker-\(id)").fingerprint.description)
            lines.append("\(id) 127.0.0.1:\(port)" + pin)
        }
        let confPath = directory + "/cluster.conf"
        try (lines.joined(separator: "\n") + "\n").write(toFile: confPath, atomically: true, encoding: .utf8)
        try writeClusterKey(in: directory)
        config = try ClusterConfig.load(path: confPath)
    }

    func startAll() throws {
        for id in ids { try start(id) }
    }

    func start(_ id: TrackerID) throws {
        let logPath = directory + "/tracker-\(id).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        // Every bench client logs in from 127.0.0.1: lift the per-address password rate.
        let arguments = ["--conf", directory + "/cluster.conf", "--id", "\(id)", "--data-dir", directory + "/data-\(id)",
                         "--password-rate", "100000"] + extraArguments
        let process = Process()
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--pdeathsig", "KILL", "--", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        Registry.shared.add(pid: process.processIdentifier)
        processes[id] = process
    }

    func pid(_ id: TrackerID) -> Int32? { processes[id]?.processIdentifier }

    /// SIGKILL one tracker now; returns the monotonic time of the kill. Reaped later.
    func killNow(_ id: TrackerID) -> UInt64 {
        guard let process = processes[id] else { return nowNanos() }
        let when = nowNanos()
        kill(process.processIdentifier, SIGKILL)
        return when
    }

    func cpuSeconds() -> Double {
        processes.values.reduce(0) { $0 + processCPUSeconds($1.processIdentifier) }
    }

    func log(_ id: TrackerID) -> String {
        (try? String(contentsOfFile: directory + "/tracker-\(id).log", encoding: .utf8)) ?? ""
    }

    func isRunning(_ id: TrackerID) -> Bool { processes[id]?.isRunning ?? false }

    /// Kills every tracker (bounded wait for exit) and removes the folder, unless the
    /// environment has TRACKER_BENCH_KEEP=1 (for reading the trackers' logs afterwards).
    func stop(keepDirectory: Bool = ProcessInfo.processInfo.environment["TRACKER_BENCH_KEEP"] == "1") {
        for (_, process) in processes {
            let pid = process.processIdentifier
            kill(pid, SIGKILL)
            let deadline = nowNanos() + 5_000_000_000
            while process.isRunning && nowNanos() < deadline { usleep(5_000) }
            Registry.shared.remove(pid: pid)
        }
        processes = [:]
        if keepDirectory {
            stderrLine("tracker-bench: kept \(directory)")
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
        Registry.shared.remove(directory: directory)
    }

    /// Waits (bounded) until exactly one running tracker leads the highest term among the answers.
    func waitForLeader(using client: TrackerClient, among: [TrackerID]? = nil, newerThan term: UInt64 = 0,
                       timeoutMillis: Int = 20_000, pollMillis: Int = 20) -> TrackerStatus? {
        let deadline = nowNanos() + UInt64(timeoutMillis) * 1_000_000
        let wanted = Set(among ?? ids)
        while nowNanos() < deadline {
            let statuses = config.trackers.filter { wanted.contains($0.id) }.compactMap { try? client.status(of: $0).get() }
            let leaders = statuses.filter { $0.role == .leader && $0.term > term }
            if leaders.count == 1, let leader = leaders.first, statuses.allSatisfy({ $0.term <= leader.term }) {
                return leader
            }
            sleepMillis(pollMillis)
        }
        return nil
    }
}

/// Runs `body(i)` on `count` threads and waits for all of them.
func onThreads(_ count: Int, stackBytes: Int = 1 << 20, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = stackBytes
        thread.start()
    }
    group.wait()
}

/// Percentile (nearest rank) of sorted values.
func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

func millis(_ nanos: UInt64) -> Double { Double(nanos) / 1e6 }

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// One JSON object on one line, keys in the given order.
func jsonLine(_ fields: KeyValuePairs<String, Any>) -> String {
    let parts = fields.map { key, value -> String in
        let rendered: String
        switch value {
        case let v as String: rendered = "\"\(v)\""
        case let v as Double: rendered = v.isFinite ? String(format: "%.3f", v) : "null"
        case let v as Int: rendered = "\(v)"
        case let v as UInt64: rendered = "\(v)"
        case let v as Bool: rendered = v ? "true" : "false"
        case let v as [Double]: rendered = "[" + v.map { String(format: "%.1f", $0) }.joined(separator: ",") + "]"
        default: rendered = "null"
        }
        return "\"\(key)\":\(rendered)"
    }
    return "{" + parts.joined(separator: ",") + "}"
}

/// A logged-in benchmark user with its own connection.
struct Session: Sendable {
    let client: TrackerClient
    let token: [UInt8]
}

/// Creates user `userID` and logs it in through a fresh client.
func makeSession(cluster: ClusterConfig, timing: TrackerClient.Timing, userID: String, peerPort: Int) throws -> Session {
    let client = try TrackerClient(cluster: cluster, timing: timing)
    let password = "bench-password-\(userID)"
    let created = try client.call(.createUser(userID: userID, password: password))
    guard case .result(.ok) = created else { throw BenchError("createUser \(userID): \(created)") }
    let login = try client.call(.login(userID: userID, password: password, peerAddress: "127.0.0.1:\(peerPort)"))
    guard case let .loggedIn(token, _) = login else { throw BenchError("login \(userID): \(login)") }
    return Session(client: client, token: token)
}

/// Creates and logs in `count` users, 4 at a time; throws if any failed. PBKDF2 runs on one
/// password thread per tracker (~30 ms a call), so the attempt timeout must be long: a request
/// that times out is retried and hashed again, which snowballs.
func makeSessions(cluster: ClusterConfig, timing: TrackerClient.Timing, count: Int, prefix: String) throws -> [Session] {
    var setupTiming = timing
    setupTiming.attemptTimeoutMillis = max(timing.attemptTimeoutMillis, 20_000)
    setupTiming.callDeadlineMillis = max(timing.callDeadlineMillis, 60_000)
    let setup = setupTiming
    let results = Mutex<[Int: Result<Session, any Error>]>([:])
    let parallel = 4
    onThreads(min(parallel, count)) { lane in
        for i in stride(from: lane, to: count, by: parallel) {
            let result = Result { try makeSession(cluster: cluster, timing: setup, userID: "\(prefix)\(i)", peerPort: 20_000 + i) }
            results.withLock { $0[i] = result }
        }
    }
    return try results.withLock { map in try (0..<count).map { try map[$0]!.get() } }
}

/// Every group id in the cluster, through the leader (linearizable reads, page after page).
func listGroups(_ session: Session) throws -> Set<String> {
    let groups = try Page<GroupSummary>.collect(upTo: Limits.standard.groupsMax) { page in
        let answer = try session.client.call(.query(.listGroups(page: page)), token: session.token)
        guard case let .result(.ok(.groups(groups))) = answer else { throw BenchError("list_groups: \(answer)") }
        return groups
    }
    return Set(groups.items.map(\.groupID))
}

/// Writes a fresh random cluster key (64 hex digits, mode 0600) beside the cluster.conf in
/// `directory`: tracker-node refuses to start without one.
func writeClusterKey(in directory: String) throws {
    var generator = SystemRandomNumberGenerator()
    let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    guard FileManager.default.createFile(atPath: directory + "/cluster.key", contents: Data((hex + "\n").utf8),
                                         attributes: [.posixPermissions: 0o600]) else {
        throw CocoaError(.fileWriteUnknown)
    }
}

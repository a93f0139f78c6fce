import Foundation
import Logging
import Networking
import ProcessHarness
import Synchronization
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

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

/// Kills every tracker and removes every folder on SIGINT, SIGTERM or SIGHUP (and at exit).
func installCleanup() {
    Children.shared.installSignalCleanup { stderrLine("tracker-bench: \($0)") }
    atexit { Children.shared.killAll() }
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

/// Three `tracker-node` processes of the harness's `TrackerCluster`, started through `setpriv
/// --pdeathsig KILL` when available (from the main thread), so they die with the benchmark even
/// if it is itself killed with SIGKILL. Every bench client logs in from 127.0.0.1, so the
/// per-address password rate is lifted.
final class BenchCluster {
    let cluster: TrackerCluster
    let config: ClusterConfig
    var ids: [TrackerID] { cluster.ids }

    init(binary: String, extraArguments: [String]) throws {
        cluster = try TrackerCluster(size: 3, binary: binary, extraArguments: ["--password-rate", "100000"] + extraArguments,
                                     prefix: "tracker-bench", diesWithParent: true)
        config = try cluster.config()
    }

    func startAll() throws { try cluster.startAll() }

    func pid(_ id: TrackerID) -> Int32? { cluster.pid(id) }

    func isRunning(_ id: TrackerID) -> Bool { cluster.isRunning(id) }

    /// Kills every tracker and removes the folder, unless the environment has
    /// TRACKER_BENCH_KEEP=1 (for reading the trackers' logs afterwards).
    func stop(keepDirectory: Bool = ProcessInfo.processInfo.environment["TRACKER_BENCH_KEEP"] == "1") {
        if let kept = cluster.stop(keepDirectory: keepDirectory) { stderrLine("tracker-bench: kept \(kept)") }
    }

    /// `TrackerCluster.waitForLeader`, 20 s by default.
    func waitForLeader(using client: TrackerClient, among: [TrackerID]? = nil, newerThan term: UInt64 = 0,
                       timeoutMillis: Int = 20_000) -> TrackerStatus? {
        (try? cluster.waitForLeader(using: client, among: among, newerThan: term, timeoutMillis: timeoutMillis)) ?? nil
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

/// One JSON object on one line, keys in the given order (strings escaped by `JSONValue`).
func jsonLine(_ fields: KeyValuePairs<String, Any>) -> String {
    JSONValue.object(fields.map { key, value -> (String, JSONValue) in
        switch value {
        case let v as String: return (key, .string(v))
        case let v as Double: return (key, .decimal(v, fractionDigits: 3))
        case let v as Int: return (key, .integer(Int64(v)))
        case let v as UInt64: return (key, .unsigned(v))
        case let v as Bool: return (key, .bool(v))
        case let v as [Double]: return (key, .array(v.map { .decimal($0, fractionDigits: 1) }))
        default: return (key, .null)
        }
    }).text
}

/// The certificate every bench client presents (nil: each makes its own): a session is bound
/// to the certificate it logged in with, and the benches hand tokens from client to client.
let benchIdentity = try? TLSIdentity.makeEphemeral(commonName: "tracker-bench")

/// A logged-in benchmark user with its own connection.
struct Session: Sendable {
    let client: TrackerClient
    let token: [UInt8]
}

/// Creates user `userID` and logs it in through a fresh client.
func makeSession(cluster: ClusterConfig, timing: TrackerClient.Timing, userID: String, peerPort: Int) throws -> Session {
    let client = try TrackerClient(cluster: cluster, timing: timing, identity: benchIdentity)
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

import Foundation
import Hashing
import Networking
import Synchronization
import SystemClock
import TrackerClient

/// What `tracker-bench logins` measured: `users` distinct users logging in at once.
struct LoginsResult {
    var users: Int
    var succeeded: Int
    var failures: [String]
    var p50Millis: Double
    var p99Millis: Double
    var maxMillis: Double
    var onePasswordMillis: Double
    var cores: Int
    /// The bound: 1.5 × (users × one PBKDF2) ÷ cores.
    var targetP99Millis: Double { 1.5 * Double(users) * onePasswordMillis / Double(max(1, cores)) }
}

/// A login storm on a fresh 3-tracker cluster: `users` users are created first (not timed),
/// then every one of them logs in at the same moment from its own client and connection.
func runLogins(binary: String, users: Int, trackerArguments: [String]) throws -> LoginsResult {
    raiseDescriptorLimit(to: users * 2 + 4_096)
    let cluster = try BenchCluster(binary: binary, extraArguments: trackerArguments)
    defer { cluster.stop() }
    try cluster.startAll()
    var timing = TrackerClient.Timing()
    timing.callDeadlineMillis = 10_000
    let probe = try TrackerClient(cluster: cluster.config, timing: timing, identity: benchIdentity)
    guard cluster.waitForLeader(using: probe) != nil else { throw BenchError("no leader within 20 s") }
    try createUsers(cluster: cluster.config, count: users)
    stderrLine("tracker-bench: \(users) users created; all log in at once")
    let onePassword = measureOnePasswordMillis()
    let latencies = Mutex<[UInt64]>([])
    let failures = Mutex<[String]>([])
    let ready = DispatchGroup()
    let go = DispatchSemaphore(value: 0)
    let config = cluster.config
    for _ in 0..<users { ready.enter() }
    let done = DispatchGroup()
    for i in 0..<users {
        done.enter()
        let thread = Thread {
            defer { done.leave() }
            let client = try? TrackerClient(cluster: config, timing: TrackerClient.Timing())
            ready.leave()
            go.wait()
            guard let client else { return failures.withLock { $0.append("no client") } }
            let start = SystemClock.monotonicNanos()
            let answer = try? client.call(.login(userID: "s\(i)", password: "storm-\(i)", peerAddress: "127.0.0.1:\(20_000 + i % 40_000)"))
            let elapsed = SystemClock.monotonicNanos() - start // one thread's own clock readings
            if case .loggedIn = answer {
                latencies.withLock { $0.append(elapsed) }
            } else {
                failures.withLock { $0.append(answer.map { "\($0)" } ?? "call failed") }
            }
            client.close()
        }
        thread.stackSize = 256 << 10
        thread.start()
    }
    ready.wait()
    for _ in 0..<users { go.signal() }
    done.wait()
    let sorted = latencies.withLock { $0.sorted() }
    return LoginsResult(users: users, succeeded: sorted.count, failures: failures.withLock { $0 },
                        p50Millis: millis(percentile(sorted, 50)), p99Millis: millis(percentile(sorted, 99)),
                        maxMillis: millis(sorted.last ?? 0), onePasswordMillis: onePassword,
                        cores: ProcessInfo.processInfo.activeProcessorCount)
}

/// Creates users s0..s(count-1), 32 at a time (each costs one PBKDF2 on the leader).
private func createUsers(cluster: ClusterConfig, count: Int) throws {
    var timing = TrackerClient.Timing()
    timing.attemptTimeoutMillis = 20_000
    timing.callDeadlineMillis = 120_000
    let setup = timing
    let problems = Mutex<[String]>([])
    let lanes = min(32, count)
    onThreads(lanes, stackBytes: 256 << 10) { lane in
        guard let client = try? TrackerClient(cluster: cluster, timing: setup, identity: benchIdentity) else {
            return problems.withLock { $0.append("no client") }
        }
        for i in stride(from: lane, to: count, by: lanes) {
            let answer = try? client.call(.createUser(userID: "s\(i)", password: "storm-\(i)"))
            guard case .result(.ok) = answer else { return problems.withLock { $0.append("create s\(i): \(String(describing: answer))") } }
        }
        client.close()
    }
    if let first = problems.withLock({ $0.first }) { throw BenchError(first) }
}

/// One PBKDF2 (the trackers' iteration count) on this machine, the median of a few.
private func measureOnePasswordMillis() -> Double {
    let salt = (try? PasswordHash.makeSalt()) ?? [UInt8](repeating: 1, count: 16)
    var samples: [Double] = []
    for _ in 0..<9 {
        let start = SystemClock.monotonicNanos()
        _ = try? PasswordHash.derive(password: "probe", salt: salt)
        samples.append(millis(SystemClock.monotonicNanos() - start))
    }
    return median(samples)
}

/// Prints a login storm's figures: one JSON line, then a summary.
func printLogins(_ r: LoginsResult, timings: String) {
    out(jsonLine([
        "system": "tracker", "mode": "logins", "users": r.users, "succeeded": r.succeeded, "failed": r.failures.count,
        "p50_ms": r.p50Millis, "p99_ms": r.p99Millis, "max_ms": r.maxMillis, "one_pbkdf2_ms": r.onePasswordMillis,
        "cores": r.cores, "target_p99_ms": r.targetP99Millis, "timings": timings,
    ]))
    out("""

        tracker logins (\(r.users) distinct users at once; 3 trackers on this machine's \(r.cores) cores; timings: \(timings)):
          succeeded \(r.succeeded) of \(r.users); p50 \(fmt(r.p50Millis / 1000)) s, p99 \(fmt(r.p99Millis / 1000)) s, max \(fmt(r.maxMillis / 1000)) s
          one PBKDF2 \(fmt(r.onePasswordMillis)) ms; target p99 1.5 × users × PBKDF2 ÷ cores = \(fmt(r.targetP99Millis / 1000)) s; p99 / target = \(fmt(r.p99Millis / max(1, r.targetP99Millis)))
        """)
    if let first = r.failures.first { out("  first failure: \(first)") }
}

import Foundation
import Synchronization
import SystemClock
import TrackerClient
import TrackerStateMachine

/// What one level of `tracker-bench sessions` measured on the leader.
struct SessionsLevel {
    var clients: Int
    var idleCores: Double
    var keepaliveWritesPerSecond: Double
    var keepalivesPerSecond: Double
    var keepalivesRefused: Int
    var connectionsLost: Int
    var rssMiB: Double
    var descriptors: Int
    var loadWritesPerSecond: Double
    var loadP50: Double
    var loadP99: Double
    var loadErrors: Int
    var loadCores: Double
}

/// N logged-in clients with real TCP connections and keepalives, on one fresh 3-tracker
/// cluster, for each N of `levels` (growing: connections are added, never dropped). Setup
/// (not timed): `sessionCount` users are created and logged in once (each costs a PBKDF2 on
/// the leader), and the N connections keep those sessions alive, `tokens[i % sessionCount]`.
/// Then per level: an idle window (keepalives only) gives the leader's CPU and the Raft writes
/// they cause (commit index advance), and a c = 16 createGroup window gives writes/s, p50, p99
/// with the keepalives still flowing.
func runSessions(binary: String, levels: [Int], sessionCount: Int, idleSeconds: Double, loadSeconds: Double,
                 trackerArguments: [String]) throws -> [SessionsLevel] {
    raiseDescriptorLimit(to: (levels.max() ?? 0) + 4_096)
    let cluster = try BenchCluster(binary: binary, extraArguments: trackerArguments)
    defer { cluster.stop() }
    try cluster.startAll()
    var timing = TrackerClient.Timing()
    timing.attemptTimeoutMillis = 2_000
    timing.callDeadlineMillis = 10_000
    let probe = try TrackerClient(cluster: cluster.config, timing: timing, identity: benchIdentity)
    guard let leader = cluster.waitForLeader(using: probe), let pid = cluster.pid(leader.id),
          let leaderTracker = cluster.config.trackers.first(where: { $0.id == leader.id }) else { throw BenchError("no leader within 20 s") }
    let kept = try makeSessions(cluster: cluster.config, timing: timing, count: sessionCount, prefix: "k")
    for session in kept { session.client.close() }
    let perWorker = Int(Double(levels.count) * loadSeconds * 4_000 / 16) / Limits.standard.groupsOwnedPerUserMax + 2
    let writers = try makeSessions(cluster: cluster.config, timing: timing, count: 16 * perWorker, prefix: "w")
    for spare in writers.dropFirst(16) { spare.client.close() }
    stderrLine("tracker-bench: \(sessionCount + writers.count) users logged in; leader \(leader.id) pid \(pid)")

    let written = WrittenGroups()
    let fleet = try KeepaliveFleet()
    defer { fleet.stop() }
    var results: [SessionsLevel] = []
    for (levelIndex, level) in levels.enumerated() {
        let opening = SystemClock.monotonicNanos()
        do { try fleet.grow(to: level, port: leaderTracker.address.port, pin: leaderTracker.fingerprint, tokens: kept.map(\.token)) } catch {
            // E.g. a descriptor limit of this process or the leader's: report the levels reached.
            stderrLine("tracker-bench: stopped at \(fleet.count) connections of \(level): \(error)")
            break
        }
        stderrLine("tracker-bench: \(level) connections open in \(fmt(Double(SystemClock.monotonicNanos() - opening) / 1e9, 1)) s")
        sleepMillis(fleet.periodMillis + 1_000) // every connection has sent a keepalive at least once
        let commit0 = (try? probe.status(of: leaderTracker).get())?.commitIndex ?? 0
        let cpu0 = processCPUSeconds(pid)
        let sent0 = fleet.sent.load(ordering: .relaxed)
        let idleStart = SystemClock.monotonicNanos()
        sleepMillis(Int(idleSeconds * 1_000))
        let idleWindow = Double(SystemClock.monotonicNanos() - idleStart) / 1e9
        let cpu1 = processCPUSeconds(pid)
        let commit1 = (try? probe.status(of: leaderTracker).get())?.commitIndex ?? 0
        let sent1 = fleet.sent.load(ordering: .relaxed)
        // Status reads are not writes; the two probes above are the only other traffic.
        let load = measureLoad(writers: writers, perWorker: perWorker, written: written, seconds: loadSeconds, level: levelIndex, pid: pid)
        results.append(SessionsLevel(
            clients: level, idleCores: (cpu1 - cpu0) / idleWindow,
            keepaliveWritesPerSecond: Double(commit1 > commit0 ? commit1 - commit0 : 0) / idleWindow,
            keepalivesPerSecond: Double(sent1 - sent0) / idleWindow, keepalivesRefused: fleet.refused.load(ordering: .relaxed),
            connectionsLost: fleet.lost.load(ordering: .relaxed), rssMiB: residentMiB(pid), descriptors: descriptorCount(pid),
            loadWritesPerSecond: load.writesPerSecond, loadP50: load.p50, loadP99: load.p99, loadErrors: load.errors,
            loadCores: load.cores))
        if let why = fleet.firstRefusal.withLock({ $0 }) { stderrLine("tracker-bench: first refused keepalive at \(level) clients: \(why)") }
        guard cluster.isRunning(leader.id) else { throw BenchError("the leader exited at \(level) clients") }
    }
    return results
}

/// c = 16 closed-loop createGroup writes for `seconds` through the writers' sessions.
private func measureLoad(writers: [Session], perWorker: Int, written: WrittenGroups, seconds: Double, level: Int, pid: Int32)
    -> (writesPerSecond: Double, p50: Double, p99: Double, errors: Int, cores: Double) {
    let latencies = Mutex<[UInt64]>([])
    let errors = Atomic<Int>(0)
    let start = SystemClock.monotonicNanos()
    let end = start + UInt64(seconds * 1e9)
    let cpu0 = processCPUSeconds(pid)
    onThreads(16) { worker in
        var mine: [UInt64] = []
        var total = written.counts.withLock { $0[worker] }
        let ownedMax = Limits.standard.groupsOwnedPerUserMax
        // Bounded by time, and by the writers' quotas of groups (a user owns at most ownedMax).
        while SystemClock.monotonicNanos() < end, total < ownedMax * perWorker - 1 {
            let token = writers[worker + 16 * (total / ownedMax)].token
            let t0 = SystemClock.monotonicNanos()
            let answer = try? writers[worker].client.call(.command(.createGroup(groupID: "s\(level)w\(worker)n\(total)")), token: token)
            if case .result(.ok) = answer {
                mine.append(SystemClock.monotonicNanos() - t0)
                total += 1
            } else {
                errors.add(1, ordering: .relaxed)
            }
        }
        written.counts.withLock { $0[worker] = total }
        latencies.withLock { $0.append(contentsOf: mine) }
    }
    let window = Double(SystemClock.monotonicNanos() - start) / 1e9
    let sorted = latencies.withLock { $0 }.sorted()
    return (Double(sorted.count) / window, millis(percentile(sorted, 50)), millis(percentile(sorted, 99)),
            errors.load(ordering: .relaxed), (processCPUSeconds(pid) - cpu0) / window)
}

/// Groups each of the 16 load workers created, over all levels (a user owns at most
/// `groupsOwnedPerUserMax`, so a worker moves to its next user's token before that).
final class WrittenGroups: Sendable {
    let counts = Mutex([Int](repeating: 0, count: 16))
}

/// Resident memory of a process in MiB, from /proc/PID/status.
func residentMiB(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kib / 1024
}

/// Open descriptors of a process.
func descriptorCount(_ pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

/// Raises this process's descriptor limit to at least `wanted` (the hard limit too, when
/// privileged), else as far as the hard limit allows.
func raiseDescriptorLimit(to wanted: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    var raised = limit
    raised.rlim_cur = max(limit.rlim_cur, rlim_t(wanted))
    raised.rlim_max = max(limit.rlim_max, raised.rlim_cur)
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
        raised.rlim_cur = limit.rlim_max
        raised.rlim_max = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
    }
}

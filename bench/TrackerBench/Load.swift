import Foundation
import Synchronization
import SystemClock
import TrackerClient
import TrackerStateMachine

/// What one worker measured inside the timed window.
struct WorkerTally: Sendable {
    var latencies: [UInt64] = []
    var errors = 0
    var firstError = ""
    var ackedTotal = 0
    var acked: [String] = []
}

struct LoadOutcome {
    var concurrency: Int
    var ok: Int
    var errors: Int
    var opsPerSecond: Double
    var p50: Double
    var p99: Double
    var p999: Double
    var maxMillis: Double
    var trackerCores: Double
    var leaderCores: Double
    var benchCores: Double
    var groupsStored: Int
    var ackedTotal: Int
    var missing: Int
    var firstError: String
    var termChanges: Int
}

/// What one segment (one fresh cluster) measured.
struct SegmentOutcome {
    var windowNanos: UInt64
    var latencies: [UInt64]
    var errors: Int
    var firstError: String
    var trackerCPU: Double
    var leaderCPU: Double
    var benchCPU: Double
    var ackedTotal: Int
    var groupsStored: Int
    var missing: Int
    var termChanges: Int
}

private struct Progress: Sendable {
    var acked = 0
    var windowEnd: UInt64
}

/// Closed-loop committed writes at one concurrency. The state machine holds at most
/// `Limits.groupsMax` (100,000) groups, so the timed part is cut into segments, each on a fresh
/// 3-tracker cluster that stops once `groupBudget` writes were acknowledged in it; the figures
/// add up the segments' windows (warm-up and logins excluded).
func runLoad(binary: String, concurrency: Int, seconds: Double, warmupSeconds: Double, round: Int,
             trackerArguments: [String], groupBudget: Int = 95_000) throws -> (LoadOutcome, segments: Int) {
    var segments: [SegmentOutcome] = []
    var remaining = UInt64(seconds * 1e9)
    while remaining > 200_000_000 && segments.count < 20 {
        let segment = try runSegment(binary: binary, concurrency: concurrency, windowNanos: remaining,
                                     warmupSeconds: warmupSeconds, round: round, segment: segments.count + 1,
                                     trackerArguments: trackerArguments, groupBudget: groupBudget)
        segments.append(segment)
        remaining -= min(remaining, segment.windowNanos)
    }
    let window = Double(segments.reduce(0) { $0 + $1.windowNanos }) / 1e9
    let latencies = segments.flatMap(\.latencies).sorted()
    return (LoadOutcome(
        concurrency: concurrency, ok: latencies.count, errors: segments.reduce(0) { $0 + $1.errors },
        opsPerSecond: Double(latencies.count) / window,
        p50: millis(percentile(latencies, 50)), p99: millis(percentile(latencies, 99)),
        p999: millis(percentile(latencies, 99.9)), maxMillis: millis(latencies.last ?? 0),
        trackerCores: segments.reduce(0) { $0 + $1.trackerCPU } / window,
        leaderCores: segments.reduce(0) { $0 + $1.leaderCPU } / window,
        benchCores: segments.reduce(0) { $0 + $1.benchCPU } / window,
        groupsStored: segments.reduce(0) { $0 + $1.groupsStored },
        ackedTotal: segments.reduce(0) { $0 + $1.ackedTotal },
        missing: segments.reduce(0) { $0 + $1.missing },
        firstError: segments.map(\.firstError).first { !$0.isEmpty } ?? "",
        termChanges: segments.reduce(0) { $0 + $1.termChanges }), segments.count)
}

private func runSegment(binary: String, concurrency: Int, windowNanos: UInt64, warmupSeconds: Double, round: Int,
                        segment: Int, trackerArguments: [String], groupBudget: Int) throws -> SegmentOutcome {
    let cluster = try BenchCluster(binary: binary, extraArguments: trackerArguments)
    defer { cluster.stop() }
    try cluster.startAll()
    var timing = TrackerClient.Timing()
    timing.attemptTimeoutMillis = 2_000
    timing.callDeadlineMillis = 10_000
    timing.connectTimeoutMillis = 500
    let probe = try TrackerClient(cluster: cluster.config, timing: timing, identity: benchIdentity)
    guard let leader = cluster.waitForLeader(using: probe) else { throw BenchError("no leader within 20 s") }
    // A user owns at most `groupsOwnedPerUserMax` groups, so each worker writes through a series
    // of users' sessions (on its first session's connection), moving on before the quota.
    let ownedMax = Limits.standard.groupsOwnedPerUserMax
    let sessionsPerWorker = groupBudget / concurrency / ownedMax + 2
    let sessions = try makeSessions(cluster: cluster.config, timing: timing, count: concurrency * sessionsPerWorker, prefix: "w")
    for spare in sessions.dropFirst(concurrency) { spare.client.close() } // only their tokens are used

    let run = LoadSegment(concurrency: concurrency, windowNanos: windowNanos, warmupSeconds: warmupSeconds, round: round,
                          segment: segment, groupBudget: groupBudget, ownedMax: ownedMax, sessionsPerWorker: sessionsPerWorker,
                          sessions: sessions, leaderPid: cluster.pid(leader.id) ?? 0, trackerPids: cluster.ids.compactMap { cluster.pid($0) })
    // One extra thread samples CPU at the window's edges; the others write.
    onThreads(concurrency + 1) { i in
        if i == concurrency { run.sampleCPU() } else { run.write(i) }
    }

    // A higher term afterwards means an election happened under load (a leader missed heartbeats).
    let after = cluster.waitForLeader(using: probe, timeoutMillis: 5_000)
    let termChanges = after.map { Int($0.term) - Int(leader.term) } ?? -1
    // Everything acknowledged (warm-up included) must be in the state machine.
    let stored = (try? listGroups(sessions[0])) ?? []
    for session in sessions { session.client.close() }
    return run.outcome(stored: stored, termChanges: termChanges)
}

/// What the writers and the CPU sampler of one segment share.
private final class LoadSegment: Sendable {
    let concurrency: Int, windowNanos: UInt64, round: Int, segment: Int, groupBudget: Int, ownedMax: Int, sessionsPerWorker: Int
    let sessions: [Session]
    let leaderPid: Int32
    let trackerPids: [Int32]
    let startAt: UInt64, windowStart: UInt64, hardStop: UInt64
    let progress: Mutex<Progress>
    let tallies = Mutex<[Int: WorkerTally]>([:])
    let measured = Mutex<(cpu0: Double, cpu1: Double, leader0: Double, leader1: Double, self0: Double, self1: Double)>((0, 0, 0, 0, 0, 0))

    init(concurrency: Int, windowNanos: UInt64, warmupSeconds: Double, round: Int, segment: Int, groupBudget: Int, ownedMax: Int,
         sessionsPerWorker: Int, sessions: [Session], leaderPid: Int32, trackerPids: [Int32]) {
        (self.concurrency, self.windowNanos, self.round, self.segment) = (concurrency, windowNanos, round, segment)
        (self.groupBudget, self.ownedMax, self.sessionsPerWorker) = (groupBudget, ownedMax, sessionsPerWorker)
        (self.sessions, self.leaderPid, self.trackerPids) = (sessions, leaderPid, trackerPids)
        startAt = SystemClock.monotonicNanos() + 100_000_000
        windowStart = startAt + UInt64(warmupSeconds * 1e9)
        hardStop = windowStart + windowNanos + 20_000_000_000
        progress = Mutex(Progress(windowEnd: windowStart + windowNanos))
    }

    /// The CPU time of the trackers, the leader and this process at the window's edges.
    func sampleCPU() {
        while SystemClock.monotonicNanos() < windowStart { usleep(1_000) }
        let c0 = trackerPids.reduce(0) { $0 + processCPUSeconds($1) }
        let l0 = processCPUSeconds(leaderPid)
        let s0 = selfCPUSeconds()
        while SystemClock.monotonicNanos() < progress.withLock({ $0.windowEnd }) { usleep(1_000) }
        let c1 = trackerPids.reduce(0) { $0 + processCPUSeconds($1) }
        let l1 = processCPUSeconds(leaderPid)
        let s1 = selfCPUSeconds()
        measured.withLock { $0 = (c0, c1, l0, l1, s0, s1) }
    }

    /// Worker `i`: closed-loop createGroup writes until the window ends.
    func write(_ i: Int) {
        let session = sessions[i]
        var tokenIndex = 0
        var ownedByToken = 0
        var tally = WorkerTally()
        tally.latencies.reserveCapacity(Int(Double(windowNanos) / 1e9 * 20_000 / Double(max(concurrency, 1))) + 1_000)
        while SystemClock.monotonicNanos() < startAt { usleep(500) }
        var counter = 0
        // Bounded by time (hardStop, far beyond the window, for a stuck call) and by count.
        while counter < 10_000_000 {
            let t0 = SystemClock.monotonicNanos()
            if t0 >= progress.withLock({ $0.windowEnd }) || t0 >= hardStop { break }
            counter += 1
            let groupID = "r\(round)c\(concurrency)s\(segment)w\(i)n\(counter)"
            var ok = false
            var problem = ""
            do {
                let token = sessions[i + concurrency * tokenIndex].token
                let answer = try session.client.call(.command(.createGroup(groupID: groupID)),
                                                     token: token)
                if case .result(.ok) = answer { ok = true } else { problem = "\(answer)" }
            } catch {
                problem = "\(error)"
            }
            let t1 = SystemClock.monotonicNanos()
            if ok {
                ownedByToken += 1
                if ownedByToken == ownedMax, tokenIndex + 1 < sessionsPerWorker {
                    tokenIndex += 1
                    ownedByToken = 0
                }
                tally.ackedTotal += 1
                tally.acked.append(groupID)
                progress.withLock { p in
                    p.acked += 1
                    // Stay clear of the state machine's group limit: end this segment's window now.
                    if p.acked >= groupBudget && t1 > windowStart && t1 < p.windowEnd { p.windowEnd = t1 }
                }
            }
            let windowEnd = progress.withLock { $0.windowEnd }
            guard t1 >= windowStart && t1 <= windowEnd else { continue }
            if ok {
                tally.latencies.append(t1 - t0)
            } else {
                tally.errors += 1
                if tally.firstError.isEmpty { tally.firstError = problem }
            }
        }
        tallies.withLock { $0[i] = tally }
    }

    /// The segment's figures from every worker's tally (in worker order).
    func outcome(stored: Set<String>, termChanges: Int) -> SegmentOutcome {
        let windowEnd = progress.withLock { $0.windowEnd }
        let all = tallies.withLock { $0 }
        var latencies: [UInt64] = []
        var errors = 0
        var ackedTotal = 0
        var firstError = ""
        var missing = 0
        for (_, tally) in all.sorted(by: { $0.key < $1.key }) {
            missing += tally.acked.count { !stored.contains($0) }
            // A worker may have appended a latency just before another one cut the window short.
            latencies.append(contentsOf: tally.latencies)
            errors += tally.errors
            ackedTotal += tally.ackedTotal
            if firstError.isEmpty { firstError = tally.firstError }
        }
        let cpu = measured.withLock { $0 }
        return SegmentOutcome(
            windowNanos: elapsed(from: windowStart, to: windowEnd), latencies: latencies, errors: errors, firstError: firstError,
            trackerCPU: cpu.cpu1 - cpu.cpu0, leaderCPU: cpu.leader1 - cpu.leader0, benchCPU: cpu.self1 - cpu.self0,
            ackedTotal: ackedTotal, groupsStored: stored.count, missing: missing, termChanges: termChanges)
    }
}

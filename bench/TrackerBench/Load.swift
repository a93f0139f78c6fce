import Consensus
import Foundation
import Synchronization
import TrackerClient
import TrackerService
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
}

/// Closed-loop committed writes at one concurrency against a fresh 3-tracker cluster.
func runLoad(binary: String, concurrency: Int, seconds: Double, warmupSeconds: Double, round: Int,
             trackerArguments: [String]) throws -> LoadOutcome {
    let cluster = try BenchCluster(binary: binary, extraArguments: trackerArguments)
    defer { cluster.stop() }
    try cluster.startAll()
    var timing = TrackerClient.Timing()
    timing.attemptTimeoutMillis = 2_000
    timing.callDeadlineMillis = 10_000
    timing.connectTimeoutMillis = 500
    let probe = try TrackerClient(cluster: cluster.config, timing: timing)
    guard let leader = cluster.waitForLeader(using: probe) else { throw BenchError("no leader within 20 s") }
    let sessions = try makeSessions(cluster: cluster.config, timing: timing, count: concurrency, prefix: "w")

    let startAt = nowNanos() + 100_000_000
    let windowStart = startAt + UInt64(warmupSeconds * 1e9)
    let windowEnd = windowStart + UInt64(seconds * 1e9)
    let hardStop = windowEnd + 20_000_000_000
    let tallies = Mutex<[Int: WorkerTally]>([:])
    let measured = Mutex<(cpu0: Double, cpu1: Double, leader0: Double, leader1: Double, self0: Double, self1: Double)>((0, 0, 0, 0, 0, 0))
    let leaderPid = cluster.pid(leader.id) ?? 0
    let trackerPids = cluster.ids.compactMap { cluster.pid($0) }

    // One extra thread samples CPU at the window's edges; the others write.
    onThreads(concurrency + 1) { i in
        if i == concurrency {
            while nowNanos() < windowStart { usleep(1_000) }
            let c0 = trackerPids.reduce(0) { $0 + processCPUSeconds($1) }
            let l0 = processCPUSeconds(leaderPid)
            let s0 = selfCPUSeconds()
            while nowNanos() < windowEnd { usleep(1_000) }
            let c1 = trackerPids.reduce(0) { $0 + processCPUSeconds($1) }
            let l1 = processCPUSeconds(leaderPid)
            let s1 = selfCPUSeconds()
            measured.withLock { $0 = (c0, c1, l0, l1, s0, s1) }
            return
        }
        let session = sessions[i]
        var tally = WorkerTally()
        tally.latencies.reserveCapacity(Int(seconds * 20_000 / Double(max(concurrency, 1))) + 1_000)
        while nowNanos() < startAt { usleep(500) }
        var counter = 0
        // Bounded by time (hardStop, far beyond windowEnd, for a stuck call) and by count.
        while counter < 10_000_000 {
            let t0 = nowNanos()
            if t0 >= windowEnd || t0 >= hardStop { break }
            counter += 1
            let groupID = "r\(round)c\(concurrency)w\(i)n\(counter)"
            var ok = false
            var problem = ""
            do {
                let answer = try session.client.call(.command(.createGroup(tokenHash: unboundTokenHash, groupID: groupID)),
                                                     token: session.token)
                if case .result(.ok) = answer { ok = true } else { problem = "\(answer)" }
            } catch {
                problem = "\(error)"
            }
            let t1 = nowNanos()
            if ok {
                tally.ackedTotal += 1
                tally.acked.append(groupID)
            }
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

    // Everything acknowledged (warm-up included) must be in the state machine.
    let stored = (try? listGroups(sessions[0])) ?? []
    for session in sessions { session.client.close() }

    let all = tallies.withLock { $0 }
    var latencies: [UInt64] = []
    var errors = 0
    var ackedTotal = 0
    var firstError = ""
    var missing = 0
    for (_, tally) in all {
        missing += tally.acked.count { !stored.contains($0) }
        latencies.append(contentsOf: tally.latencies)
        errors += tally.errors
        ackedTotal += tally.ackedTotal
        if firstError.isEmpty { firstError = tally.firstError }
    }
    latencies.sort()
    let cpu = measured.withLock { $0 }
    return LoadOutcome(
        concurrency: concurrency, ok: latencies.count, errors: errors,
        opsPerSecond: Double(latencies.count) / seconds,
        p50: millis(percentile(latencies, 50)), p99: millis(percentile(latencies, 99)),
        p999: millis(percentile(latencies, 99.9)), maxMillis: millis(latencies.last ?? 0),
        trackerCores: (cpu.cpu1 - cpu.cpu0) / seconds, leaderCores: (cpu.leader1 - cpu.leader0) / seconds,
        benchCores: (cpu.self1 - cpu.self0) / seconds,
        groupsStored: stored.count, ackedTotal: ackedTotal, missing: missing,
        firstError: firstError)
}

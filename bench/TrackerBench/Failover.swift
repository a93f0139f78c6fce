import Foundation
import Networking
import Synchronization
import SystemClock
import TrackerClient
import TrackerProtocol

struct FailoverOutcome {
    var trial: Int
    var oldLeader: TrackerID
    var oldTerm: UInt64
    /// Term of the first leader seen after start-up: a larger `oldTerm` means leadership moved
    /// (a spontaneous election) before the kill.
    var setupTerm: UInt64
    var newLeader: TrackerID
    var newTerm: UInt64
    /// Kill → first acknowledged write that was sent after the kill (so a live tracker, the new
    /// leader, committed and answered it). nil if none within the bound.
    var windowMillis: Double?
    /// Kill → a survivor's status first reports itself leader of a newer term (10 ms polling).
    var electedMillis: Double?
    /// Kill → first acknowledgement of any write (may be an old-leader answer still in flight).
    var lastAckBeforeKillMillis: Double?
    var sent: Int
    var acked: Int
    var failed: Int
    var stored: Int
    var lostAcked: Int
    var failedButStored: Int
}

private struct WriteRecord: Sendable {
    var groupID: String
    var start: UInt64
    var end: UInt64
    var isAcked: Bool
}

private struct Shared: Sendable {
    var killAt: UInt64 = 0
    var killed: TrackerID = 0
    var killedTerm: UInt64 = 0
    var firstNewAck: UInt64 = .max
    var isStopping = false
}

/// One trial: fresh cluster, open-loop writer, SIGKILL of the leader, read-back.
func runFailoverTrial(binary: String, trial: Int, trackerArguments: [String], writers: Int = 16,
                      tickMillis: Int = 5, preMillis: Int = 1_000, postMillis: Int = 500,
                      attemptTimeoutMillis: Int = 200) throws -> FailoverOutcome {
    let cluster = try BenchCluster(binary: binary, extraArguments: trackerArguments)
    defer { cluster.stop() }
    try cluster.startAll()
    var setupTiming = TrackerClient.Timing()
    setupTiming.attemptTimeoutMillis = 3_000
    setupTiming.callDeadlineMillis = 15_000
    let probe = try TrackerClient(cluster: cluster.config, timing: setupTiming, identity: benchIdentity)
    guard let leader = cluster.waitForLeader(using: probe) else { throw BenchError("no leader within 20 s") }
    let sessions = try makeSessions(cluster: cluster.config, timing: setupTiming, count: writers, prefix: "f")
    // The writers use their own clients with short timeouts and the sessions' tokens.
    var writeTiming = TrackerClient.Timing()
    writeTiming.attemptTimeoutMillis = attemptTimeoutMillis
    writeTiming.connectTimeoutMillis = 100
    writeTiming.callDeadlineMillis = 3_000
    let writeClients = try sessions.map { _ in try TrackerClient(cluster: cluster.config, timing: writeTiming, identity: benchIdentity) }
    for session in sessions { session.client.close() }
    // Warm each writer's connection onto the leader so the pre-kill phase is steady.
    for (i, client) in writeClients.enumerated() {
        _ = try? client.call(.command(.createGroup(groupID: "warm-\(i)")), token: sessions[i].token)
    }
    var pids: [TrackerID: Int32] = [:]
    for id in cluster.ids { pids[id] = cluster.pid(id) }
    let run = FailoverRun(trial: trial, writers: writers, tickMillis: tickMillis, preMillis: preMillis, postMillis: postMillis,
                          leader: leader, statusClient: try TrackerClient(cluster: cluster.config, timing: writeTiming, identity: benchIdentity),
                          trackers: cluster.config.trackers, pids: pids)
    onThreads(writers + 1) { i in
        if i == writers { run.control() } else { run.write(i, client: writeClients[i], token: sessions[i].token) }
    }
    return try run.outcome(cluster: cluster, probe: probe, sessions: sessions)
}

/// What the controller and the writers of one trial share.
private final class FailoverRun: Sendable {
    let shared = Mutex(Shared())
    let records = Mutex<[Int: [WriteRecord]]>([:])
    let elected = Mutex<UInt64?>(nil)
    let trial: Int, writers: Int, preMillis: Int, postMillis: Int
    let start: UInt64
    let tick: UInt64
    let killBound: UInt64 = 10_000_000_000
    let leader: TrackerStatus
    let statusClient: TrackerClient
    let trackers: [ClusterConfig.Tracker]
    let pids: [TrackerID: Int32]

    init(trial: Int, writers: Int, tickMillis: Int, preMillis: Int, postMillis: Int, leader: TrackerStatus,
         statusClient: TrackerClient, trackers: [ClusterConfig.Tracker], pids: [TrackerID: Int32]) {
        self.trial = trial
        self.writers = writers
        self.preMillis = preMillis
        self.postMillis = postMillis
        start = SystemClock.monotonicNanos() + 50_000_000
        tick = UInt64(tickMillis) * 1_000_000
        self.leader = leader
        self.statusClient = statusClient
        self.trackers = trackers
        self.pids = pids
    }

    /// The leader as the answering trackers report it now, or the one seen at start-up.
    private func currentLeader() -> (id: TrackerID, term: UInt64) {
        for _ in 0..<100 {
            let statuses = trackers.compactMap { try? statusClient.status(of: $0).get() }
            if let current = statuses.filter({ $0.role == .leader }).max(by: { $0.term < $1.term }),
               statuses.allSatisfy({ $0.term <= current.term }) {
                return (current.id, current.term)
            }
            usleep(10_000)
        }
        return (leader.id, leader.term)
    }

    /// Controller: kill the leader after the pre phase, then watch the survivors. The leader is
    /// looked up again just before the kill: it may have changed since start-up.
    func control() {
        while SystemClock.monotonicNanos() < start + UInt64(preMillis) * 1_000_000 { usleep(500) }
        let target = currentLeader()
        let killAt = SystemClock.monotonicNanos()
        shared.withLock {
            $0.killAt = killAt
            $0.killed = target.id
            $0.killedTerm = target.term
        }
        kill(pids[target.id] ?? 0, SIGKILL)
        let survivorTrackers = trackers.filter { $0.id != target.id }
        var stopAt = killAt + killBound
        while SystemClock.monotonicNanos() < stopAt {
            if elected.withLock({ $0 }) == nil {
                for tracker in survivorTrackers {
                    if case let .success(status) = statusClient.status(of: tracker), status.role == .leader, status.term > target.term {
                        let now = SystemClock.monotonicNanos()
                        elected.withLock { if $0 == nil { $0 = now } }
                    }
                }
            }
            let firstNew = shared.withLock { $0.firstNewAck }
            if firstNew != .max { stopAt = min(stopAt, max(firstNew, SystemClock.monotonicNanos()) + UInt64(postMillis) * 1_000_000) }
            usleep(10_000)
        }
        shared.withLock { $0.isStopping = true }
    }

    /// Writer `i`: one write every `tick` overall, in its own slots, until the controller stops.
    func write(_ i: Int, client: TrackerClient, token: [UInt8]) {
        var mine: [WriteRecord] = []
        var slot: UInt64 = 0
        var n = 0
        while n < 100_000 {
            // Next slot of this writer that is not in the past: one write every `tick` overall.
            var due = start + (slot * UInt64(writers) + UInt64(i)) * tick
            let now = SystemClock.monotonicNanos()
            if due < now {
                let behind = (now - due) / (UInt64(writers) * tick) + 1
                slot += behind
                due = start + (slot * UInt64(writers) + UInt64(i)) * tick
            }
            while SystemClock.monotonicNanos() < due { usleep(200) }
            if shared.withLock({ $0.isStopping }) { break }
            slot += 1
            n += 1
            let groupID = "t\(trial)w\(i)n\(n)"
            let t0 = SystemClock.monotonicNanos()
            var isAcked = false
            if let answer = try? client.call(.command(.createGroup(groupID: groupID)), token: token),
               case .result(.ok) = answer {
                isAcked = true
            }
            let t1 = SystemClock.monotonicNanos()
            mine.append(WriteRecord(groupID: groupID, start: t0, end: t1, isAcked: isAcked))
            if isAcked {
                shared.withLock { state in
                    if state.killAt != 0 && t0 > state.killAt && t1 < state.firstNewAck { state.firstNewAck = t1 }
                }
            }
        }
        records.withLock { $0[i] = mine }
    }

    /// The trial's figures once every thread is done: the new leader, the read-back, the windows.
    func outcome(cluster: BenchCluster, probe: TrackerClient, sessions: [Session]) throws -> FailoverOutcome {
        let state = shared.withLock { $0 }
        let survivors = cluster.ids.filter { $0 != state.killed }
        let newLeader = cluster.waitForLeader(using: probe, among: survivors, newerThan: state.killedTerm, timeoutMillis: 10_000)
        // Read back through a session whose tracker is alive.
        var stored: Set<String> = []
        var readError = ""
        for session in sessions.prefix(3) {
            do {
                stored = try listGroups(session)
                readError = ""
                break
            } catch {
                readError = "\(error)"
            }
        }
        if !readError.isEmpty { throw BenchError("read-back failed: \(readError)") }
        let all = records.withLock { $0.values.flatMap { $0 } }
        let acked = all.filter(\.isAcked)
        let failed = all.filter { !$0.isAcked }
        let lastOldAck = acked.filter { $0.end <= state.killAt }.map(\.end).max()
        let electedAt = elected.withLock { $0 }
        return FailoverOutcome(
            trial: trial, oldLeader: state.killed, oldTerm: state.killedTerm, setupTerm: leader.term,
            newLeader: newLeader?.id ?? 0, newTerm: newLeader?.term ?? 0,
            windowMillis: state.firstNewAck == .max ? nil : millis(elapsed(from: state.killAt, to: state.firstNewAck)),
            electedMillis: electedAt.map { millis(elapsed(from: state.killAt, to: $0)) },
            lastAckBeforeKillMillis: lastOldAck.map { millis(elapsed(from: $0, to: state.killAt)) },
            sent: all.count, acked: acked.count, failed: failed.count, stored: stored.count,
            lostAcked: acked.count { !stored.contains($0.groupID) },
            failedButStored: failed.count { stored.contains($0.groupID) })
    }
}

import Consensus
import TrackerHosting

/// Read-only views for scenarios and tests.
extension Simulation {
    /// Number of trackers.
    public var nodeCount: Int { nodes.count }

    /// Whether tracker `index` (0-based) is running.
    public func isUp(_ index: Int) -> Bool { nodes[index].isUp }

    /// The host of tracker `index` (its last process, when down).
    public func host(_ index: Int) -> TrackerHost { nodes[index].host }

    /// Writes acknowledged to clients so far.
    public var writesAcked: Int { history.writeAckMicros.count }

    /// Writes acknowledged to clients after `millis` of simulated time.
    public func writesAcked(afterMillis millis: UInt64) -> Int {
        history.writeAckMicros.count { $0 > millis * 1_000 }
    }

    /// Client attempts retried so far (timeouts, redirects, no leader).
    public var clientRetries: Int { history.retries }

    /// Crashes of tracker `index` so far.
    public func crashCount(_ index: Int) -> Int { nodes[index].crashCount }

    /// Makes tracker `index` crash in the middle of its next write that carries entries,
    /// tearing the last record.
    public func crashDuringNextWrite(_ index: Int) {
        nodes[index].tearsNextWrite = true
    }

    /// Makes tracker `index` crash in the middle of its next snapshot write, whether it takes
    /// the snapshot itself or installs one from a leader: before the snapshot file's rename
    /// (the snapshot is lost) or after it (it survives); nil lets the seed decide.
    public func crashDuringNextSnapshot(_ index: Int, isRenamed: Bool? = nil) {
        nodes[index].tearsNextSnapshot = true
        nodes[index].isTornSnapshotRenamed = isRenamed
    }

    /// The index of the last snapshot of tracker `index` whose write a crash tore, if any.
    public func tornSnapshotIndex(_ index: Int) -> UInt64? { nodes[index].tornSnapshotIndex }

    /// InstallSnapshot messages tracker `index` sent as a leader.
    public func snapshotsSent(_ index: Int) -> Int { nodes[index].snapshotsSent }

    /// Snapshots tracker `index` took of its own state and made durable.
    public func snapshotsTaken(_ index: Int) -> Int { nodes[index].snapshotsTaken }

    /// Snapshots tracker `index` installed from a leader and made durable.
    public func snapshotsInstalled(_ index: Int) -> Int { nodes[index].snapshotsInstalled }

    /// What tracker `index`'s disk holds now (what a restart would find).
    public func diskState(_ index: Int) -> PersistedState { nodes[index].disk.current }

    /// The term of the entry the cluster saw committed at `index`, if any tracker reported it
    /// committed; once set it never changes without a violation.
    public func committedTerm(at index: UInt64) -> UInt64? {
        guard index >= 1, index <= UInt64(checker.committedTerms.count) else { return nil }
        return checker.committedTerms[Int(index - 1)]
    }

    /// Handles events one at a time until `condition` holds after one, for at most `maxMillis`
    /// more simulated time or until a violation; returns whether the condition came to hold.
    /// Scenarios use it to act between two events (e.g. cut a leader the moment it is elected,
    /// before its first append is delivered).
    public func runUntil(maxMillis: UInt64, _ condition: (Simulation) -> Bool) -> Bool {
        let limit = nowMicros + maxMillis * 1_000
        if condition(self) { return true }
        while !hasViolation, let next = queue.nextTimeMicros, next <= limit {
            let event = queue.popFirst()!
            nowMicros = event.timeMicros
            eventCount += 1
            handle(event.kind)
            if condition(self) { return true }
        }
        if !hasViolation { nowMicros = max(nowMicros, limit) }
        return false
    }

    /// Runs until some tracker leads, for at most `maxMillis` more; returns it.
    public func runUntilLeader(maxMillis: UInt64) -> Int? {
        let end = nowMicros / 1_000 + maxMillis
        while nowMicros / 1_000 < end && !hasViolation {
            if let leader = leaderIndex { return leader }
            run(untilMillis: nowMicros / 1_000 + 1)
        }
        return leaderIndex
    }

    /// Each tracker's Raft state in one line (`down` for a crashed one), for failure reports.
    public var nodeSummaries: [String] {
        nodes.indices.map { i in
            nodes[i].isUp ? "tracker \(i + 1): \(nodes[i].box.executor.host.raft.stateSummary)" : "tracker \(i + 1): down"
        }
    }

    /// Simulated time now, in milliseconds.
    public var nowMillis: UInt64 { nowMicros / 1_000 }
}

import Consensus
import TrackerService

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

    /// Runs until some tracker leads, for at most `maxMillis` more; returns it.
    public func runUntilLeader(maxMillis: UInt64) -> Int? {
        let end = nowMicros / 1_000 + maxMillis
        while nowMicros / 1_000 < end && !hasViolation {
            if let leader = leaderIndex { return leader }
            run(untilMillis: nowMicros / 1_000 + 1)
        }
        return leaderIndex
    }

    /// Simulated time now, in milliseconds.
    public var nowMillis: UInt64 { nowMicros / 1_000 }
}

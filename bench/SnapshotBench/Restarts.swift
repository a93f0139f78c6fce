import Consensus
import Foundation
import SystemClock

// MARK: - Restarts

/// Polls `id` every 10 ms from now: the time of its first status answer and the time it has
/// applied `target`, both from `since`.
func timeUntilApplied(_ cluster: Cluster, _ id: NodeID, target: UInt64, since: Double, seconds: Double) -> (firstAnswer: Double?, applied: Double?) {
    var firstAnswer: Double? = nil
    let deadline = SystemClock.monotonicSeconds() + seconds
    while SystemClock.monotonicSeconds() < deadline {
        if let status = cluster.status(id) {
            if firstAnswer == nil { firstAnswer = SystemClock.monotonicSeconds() - since }
            if status.appliedIndex >= target { return (firstAnswer, SystemClock.monotonicSeconds() - since) }
        }
        usleep(10_000)
    }
    return (firstAnswer, nil)
}

func restartFigures(_ cluster: Cluster, _ name: String, _ id: NodeID, target: UInt64) {
    let logBefore = cluster.log(id).count
    let killedAt = SystemClock.monotonicSeconds()
    cluster.kill9(id)
    let startedAt = SystemClock.monotonicSeconds()
    do { try cluster.start(id) } catch { note("restart of \(id) failed: \(error)"); return }
    let times = timeUntilApplied(cluster, id, target: target, since: startedAt, seconds: 120)
    let starting = logFields(String(cluster.log(id).dropFirst(logBefore)), "tracker starting").last ?? [:]
    let extra = ["tracker": "\(id)", "target_index": "\(target)", "snapshot_index": starting["snapshot.index"] ?? "?",
                 "log_entries_loaded": starting["log.entries"] ?? "?", "kill_to_start_ms": String(format: "%.0f", (startedAt - killedAt) * 1_000)]
    emit("restart.\(name).first_status_answer", (times.firstAnswer ?? .nan) * 1_000, "ms", extra)
    emit("restart.\(name).applied_commit_at_kill", (times.applied ?? .nan) * 1_000, "ms", extra)
}

import Consensus
import SeededRandom
import TrackerHosting
import TrackerStateMachine

/// A tracker's snapshot restorer, as tracker-node's `SnapshotRestorer` thread: a received
/// InstallSnapshot is restored off the event loop, one at a time, and handed back through the
/// control lane (never dropped) when its restore finishes. Its queue holds one snapshot; a
/// newer one arriving meanwhile replaces it (the production queue drops the oldest).
struct SimRestorer {
    /// Whether a restore is running.
    var isRestoring = false
    /// The snapshot waiting for the running restore to finish.
    var waiting: Message?
    /// Restored snapshots handed to the queue since the node's last window.
    var handedSinceWindow = 0
}

extension Simulation {
    /// The snapshot settings of tracker `index`: the seed's, or in some seeds the tracker's
    /// own (`--snapshot-entries` is a per-process flag: trackers of one cluster may differ, so
    /// one compacts further than another and a deposed leader's snapshot can be ahead of its
    /// successor's).
    func nodeHostOptions(_ index: Int) -> HostOptions {
        guard let byNode = snapshotEntriesByNode, byNode.indices.contains(index) else { return hostOptions } // a tracker added at runtime: the seed's
        let entries = byNode[index]
        var options = hostOptions
        options.snapshotThresholdEntries = entries
        options.retainedEntries = entries / 5
        return options
    }

    /// Per-tracker snapshot thresholds for half the randomized seeds: the seed's value times 1,
    /// 4 or 16 for each tracker.
    static func drawSnapshotEntriesByNode(base: UInt64, nodeCount: Int, using random: inout SeededGenerator) -> [UInt64]? {
        guard Bool.random(using: &random) else { return nil }
        return (0..<nodeCount).map { _ in base * [1, 4, 16].randomElement(using: &random)! }
    }

    /// An InstallSnapshot reached tracker `index`'s socket: it goes to the restorer.
    func submitToRestorer(_ index: Int, _ message: Message) {
        guard nodes[index].restorer.isRestoring else {
            startRestore(index, message)
            return
        }
        if nodes[index].restorer.waiting != nil { coverage.add("received snapshot overtaken before its restore") }
        nodes[index].restorer.waiting = message
    }

    private func startRestore(_ index: Int, _ message: Message) {
        nodes[index].restorer.isRestoring = true
        let took = UInt64.random(in: timing.snapshotRestoreMicros, using: &random)
        queue.schedule(.snapshotRestored(node: index, epoch: nodes[index].epoch, message: message), atMicros: nowMicros + took)
    }

    /// The restorer finished `message`: its state goes to the node's queue (a snapshot whose
    /// bytes do not restore is dropped, as tracker-node drops it), and the next one starts.
    func finishRestore(_ index: Int, _ message: Message) {
        nodes[index].restorer.isRestoring = false
        if let next = nodes[index].restorer.waiting {
            nodes[index].restorer.waiting = nil
            startRestore(index, next)
        }
        guard let snapshot = message.snapshot,
              let machine = try? TrackerStateMachine.restore(snapshot.data, limits: hostOptions.limits) else { return }
        if message.term < nodes[index].host.raft.term { coverage.add("stale snapshot restored") }
        nodes[index].restorer.handedSinceWindow += 1
        nodes[index].inbox.append(.raft(message, restored: machine)) // the control lane: never dropped
        scheduleProcess(index)
    }

    /// Hands a window's inputs to the executor. A window with several restored snapshots is
    /// watched: one Raft accepted followed by a higher one it dropped is the case the host must
    /// get right (only the accepted one's state may be installed).
    func handleWindow(_ index: Int, _ inputs: [HostInput], effects: inout SimEffects) throws {
        let box = nodes[index].box
        let snapshots = nodes[index].restorer.handedSinceWindow
        nodes[index].restorer.handedSinceWindow = 0
        guard snapshots >= 2 else {
            for input in inputs { try box.executor.handle(input, effects: &effects) }
            return
        }
        var accepted: SnapshotMeta?
        var count = 0
        for input in inputs {
            let dropsBefore = box.executor.host.counters.snapshotsDroppedByRaft
            try box.executor.handle(input, effects: &effects)
            guard case let .raft(m, _) = input, m.kind == .installSnapshot, let meta = m.snapshot?.meta else { continue }
            count += 1
            if let pending = box.executor.host.raft.pendingSnapshotMeta, pending == meta { accepted = meta }
            if let accepted, meta.index > accepted.index, box.executor.host.counters.snapshotsDroppedByRaft > dropsBefore {
                coverage.add("stale snapshot after an accepted one in one window")
            }
        }
        if count >= 2 { coverage.add("two snapshots in one window") }
    }
}

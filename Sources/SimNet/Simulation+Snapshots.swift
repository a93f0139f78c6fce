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

/// One tracker of the cluster on slower hardware than the others, in some randomized seeds: a
/// disk whose syncs take tens to hundreds of milliseconds, and a long or congested path that
/// makes every snapshot to or from it stream for a long time, on a loaded host whose event loop
/// waits for a core before it takes new input (until the heal, which also ends the other
/// faults). It lags, so every leader sends it
/// snapshots; its slow loop takes what arrived meanwhile in one window.
struct SlowTracker: Sendable {
    var index: Int
    var syncMicros: ClosedRange<UInt64>
    var snapshotTransferMicros: ClosedRange<UInt64>
    var wakeMicros: ClosedRange<UInt64>

    static func draw(nodeCount: Int, using random: inout SeededGenerator) -> SlowTracker? {
        guard Int.random(in: 0..<4, using: &random) == 0 else { return nil }
        return SlowTracker(index: Int.random(in: 0..<nodeCount, using: &random),
                           syncMicros: [5_000...50_000, 20_000...200_000].randomElement(using: &random)!,
                           snapshotTransferMicros: [100_000...1_000_000, 300_000...3_000_000].randomElement(using: &random)!,
                           wakeMicros: [0...5_000, 0...50_000].randomElement(using: &random)!)
    }
}

extension Simulation {
    /// The range a sync of tracker `index` takes.
    func syncMicros(_ index: Int) -> ClosedRange<UInt64> {
        slowTracker?.index == index && healedAtMicros == nil ? slowTracker!.syncMicros : timing.syncMicros
    }

    /// How late tracker `index`'s event loop wakes for new input: at once, except on the slow
    /// tracker's loaded host, where the loop thread waits for a core.
    func loopWakeMicros(_ index: Int) -> UInt64 {
        guard let slow = slowTracker, slow.index == index, healedAtMicros == nil else { return 0 }
        return UInt64.random(in: slow.wakeMicros, using: &random)
    }

    /// The extra time `m`, an InstallSnapshot, streams on the wire.
    func drawSnapshotTransferMicros(_ m: Message) -> UInt64 {
        var range = timing.snapshotTransferMicros
        if let slow = slowTracker, healedAtMicros == nil, slow.index == Int(m.to) - 1 || slow.index == Int(m.from) - 1 { range = slow.snapshotTransferMicros }
        return UInt64.random(in: range, using: &random)
    }

    /// The snapshot settings of tracker `index`: the seed's, or in some seeds the tracker's
    /// own (`--snapshot-entries` is a per-process flag: trackers of one cluster may differ, so
    /// one compacts further than another and a deposed leader's snapshot can be ahead of its
    /// successor's).
    func nodeHostOptions(_ index: Int) -> HostOptions {
        guard let entries = snapshotEntriesByNode?[index] else { return hostOptions }
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

extension Simulation {
    /// Starts a clean shutdown of tracker `index`, as tracker-node's: a leader asks Raft to hand
    /// over leadership, then the process exits once it no longer leads, or after a second.
    func startCleanRestart(_ index: Int) {
        guard nodes[index].isUp, !nodes[index].isPaused else { return }
        if nodes[index].box.executor.transferLeadership() { coverage.add("leadership handed over at shutdown") }
        scheduleProcess(index)
        continueCleanExit(index, deadlineMicros: nowMicros + 1_000_000)
    }

    func continueCleanExit(_ index: Int, deadlineMicros: UInt64) {
        guard healedAtMicros == nil else { return } // the heal calls the restart off
        guard nodes[index].host.raft.role != .leader || nowMicros >= deadlineMicros else {
            queue.schedule(.cleanExit(node: index, epoch: nodes[index].epoch, deadlineMicros: deadlineMicros), atMicros: nowMicros + Self.tickMicros)
            return
        }
        coverage.add("clean restart")
        crash(index, isDiskAlreadyCrashed: true) // a process exit: the page cache keeps every write
        if healedAtMicros == nil { scheduleRestart(index) }
    }
}

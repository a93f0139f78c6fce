import Consensus
import SeededRandom

/// One tracker of the cluster on slower hardware than the others, in some randomized seeds: a
/// disk whose syncs take tens to hundreds of milliseconds, and a long or congested path that
/// makes every snapshot to or from it stream for a long time, on a loaded host whose event loop
/// waits for a core before it takes new input; until the heal, which also ends the other
/// faults. It lags, so every leader sends it snapshots, and its slow loop takes what arrived
/// meanwhile in one window.
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
}

import SeededRandom
import TrackerHosting

/// A bug the simulator can plant on purpose, to show its checkers catch it.
public enum PlantedBug: String, Sendable, CaseIterable {
    /// No bug.
    case none
    /// The simulated disk does not fsync a batch that only records a new term or vote, so a
    /// crash can forget a vote that was already granted.
    case skipVoteFsync = "skip-vote-fsync"
    /// Every tracker, leader or follower, answers queries from its applied state without a
    /// ReadIndex round, so a lagging or partitioned tracker serves stale reads.
    case staleRead = "stale-read"
    /// A received snapshot's state is installed even when Raft dropped that snapshot.
    case installAnySnapshot = "install-any-snapshot"
    /// A vote (a change of term or vote) is sent before it is durable.
    case persistAfterSendVote = "persist-after-send-vote"
    /// A cut log suffix is not synced before new records are written over it.
    case unsyncedTruncation = "unsynced-truncation"
    /// The witness grants votes without comparing the candidate's log to its commit mark, so
    /// a full tracker that missed entries committed with the witness can be elected (needs
    /// `SimOptions.hasWitness`).
    case witnessVotesWithoutMark = "witness-votes-without-mark"
    /// A new leader accepts a configuration change before an entry of its own term is
    /// committed (Ongaro's 2015 bug; needs `SimOptions.isMembershipOn`).
    case configBeforeTermCommit = "config-before-term-commit"

    /// The host-side bug this names, if it is one.
    var hostBug: HostPlantedBug? {
        switch self {
        case .staleRead: .staleRead
        case .installAnySnapshot: .installAnySnapshot
        case .persistAfterSendVote: .persistAfterSendVote
        case .none, .skipVoteFsync, .unsyncedTruncation, .witnessVotesWithoutMark, .configBeforeTermCommit: nil
        }
    }
}

/// How long a tracker's own work takes, drawn per seed (printable and settable, like the
/// fault profile): how many inputs one window takes at most, how long a sync costs, how long a
/// snapshot job runs. Long syncs make inputs pile up into multi-input windows; long snapshot
/// jobs let a leader's snapshot arrive while one runs.
public struct HostTiming: Sendable, Equatable {
    /// Inputs handled in one window at most (tracker-node takes all it has).
    public var windowInputsMax = Int.max
    /// Cost of one synced write, drawn in this range (microseconds).
    public var syncMicros: ClosedRange<UInt64> = 100...500
    /// Time a snapshot job takes from start to durable file (microseconds).
    public var snapshotJobMicros: ClosedRange<UInt64> = 1_000...5_000
    /// Extra time an InstallSnapshot takes on the wire (a large snapshot streams in chunks
    /// for seconds; a leader deposed meanwhile may finish sending it after its successor's).
    public var snapshotTransferMicros: ClosedRange<UInt64> = 0...1_000
    /// Time the receiver's restorer takes to restore a received snapshot (microseconds); it
    /// runs off the event loop, one snapshot at a time.
    public var snapshotRestoreMicros: ClosedRange<UInt64> = 100...1_000

    /// Quick work: what scripted scenarios use unless they set their own.
    public init() {}

    static func draw(using random: inout SeededGenerator) -> HostTiming {
        var t = HostTiming()
        t.windowInputsMax = [1, 4, Int.max, Int.max].randomElement(using: &random)!
        t.syncMicros = [50...200, 100...2_000, 1_000...20_000].randomElement(using: &random)!
        t.snapshotJobMicros = [1_000...10_000, 10_000...300_000, 200_000...3_000_000].randomElement(using: &random)!
        t.snapshotTransferMicros = [0...1_000, 10_000...300_000, 200_000...2_000_000].randomElement(using: &random)!
        t.snapshotRestoreMicros = [100...1_000, 1_000...30_000, 20_000...500_000].randomElement(using: &random)!
        return t
    }

    var summary: String {
        "window=\(windowInputsMax == Int.max ? "all" : "\(windowInputsMax)") sync=\(syncMicros.lowerBound)-\(syncMicros.upperBound)us "
            + "snapshotJob=\(snapshotJobMicros.lowerBound / 1_000)-\(snapshotJobMicros.upperBound / 1_000)ms "
            + "snapshotTransfer=\(snapshotTransferMicros.lowerBound / 1_000)-\(snapshotTransferMicros.upperBound / 1_000)ms "
            + "snapshotRestore=\(snapshotRestoreMicros.lowerBound / 1_000)-\(snapshotRestoreMicros.upperBound / 1_000)ms"
    }
}

/// How one simulation runs.
public struct SimOptions: Sendable {
    /// Trackers in the cluster, 2 to 7.
    public var nodeCount = 3
    /// Simulated clients issuing tracker commands.
    public var clientCount = 3
    /// Simulated seconds a randomized run lasts; faults stop (heal) 10 seconds before the end.
    public var simSeconds = 60
    /// A bug to plant, to prove the checkers catch it.
    public var plantedBug: PlantedBug = .none
    /// Whether the random fault injector runs (scripted scenarios switch it off).
    public var isFaultInjectionOn = true
    /// Whether clients issue commands on their own (scripted scenarios may switch it off).
    public var isClientLoadOn = true
    /// Applied entries between snapshots; nil draws one per seed from a few small values, so
    /// snapshots, compaction and InstallSnapshot happen during faults.
    public var snapshotThresholdEntries: UInt64?
    /// The most entries one append carries (Raft `RaftConfig.appendEntriesMax`); nil draws one per
    /// seed from a few values when faults are on (1 makes lagging followers catch up one entry
    /// per append, so an old term's entries reach a majority before the new leader's own entry,
    /// as in Figure 8 of the Raft paper), and keeps Raft's default otherwise.
    public var appendEntriesMax: Int?
    /// Whether the heal keeps only a majority up (liveness mode); nil draws it per seed (half
    /// the seeds) in randomized runs.
    public var isLivenessMode: Bool?
    /// The host timing to use; nil draws one per seed when faults are on (quick otherwise).
    public var hostTiming: HostTiming?
    /// Whether the last tracker is a witness (cluster.conf's `witness` role): it votes and
    /// acknowledges, holds no log, never leads; needs at least 3 trackers.
    public var hasWitness = false
    /// Whether membership changes are drawn during the faults (learners added and promoted,
    /// voters removed, crashed trackers replaced by new ones with new identities; see
    /// `Simulation+Membership.swift`). Liveness mode is then off (its core is chosen from
    /// the seed list).
    public var isMembershipOn = false
    /// Where trace lines go, or nil to keep only the trace hash.
    public var traceSink: (@Sendable (String) -> Void)?

    /// The fewest and most trackers a simulation supports.
    public static let nodeCountRange = 2...7
    /// The most simulated clients.
    public static let clientCountMax = 16
    /// Seconds between the heal and the end of a randomized run.
    public static let recoverySeconds = 10

    /// Default options: 3 trackers, 3 clients, 60 simulated seconds, faults on.
    public init() {}

    /// Traps unless the options are usable.
    public func validate() {
        precondition(Self.nodeCountRange.contains(nodeCount), "nodeCount must be 2...7")
        precondition(clientCount >= 0 && clientCount <= Self.clientCountMax, "clientCount must be 0...\(Self.clientCountMax)")
        precondition(simSeconds >= 2 * Self.recoverySeconds, "simSeconds must be at least \(2 * Self.recoverySeconds)")
        precondition(appendEntriesMax.map { $0 >= 1 } ?? true, "appendEntriesMax must be at least 1")
        precondition(!hasWitness || nodeCount >= 3, "a witness needs at least two full trackers")
        precondition(plantedBug != .witnessVotesWithoutMark || hasWitness, "witness-votes-without-mark needs a witness")
        precondition(plantedBug != .configBeforeTermCommit || isMembershipOn, "config-before-term-commit needs membership changes")
    }
}

/// The kinds of fault the injector can cause.
enum FaultKind: Int, CaseIterable, Sendable {
    case partition, oneWayCut, isolateLeader, partialPartition, clog, crash, crashTearing, pause, clockSkew, healNetwork
    case crashDuringSnapshot
    /// The next tracker to win an election is cut off from the others within 20 ms (half the
    /// time it also crashes): its first appends reach some followers and not others, the
    /// partial replication behind Figure 8 of the Raft paper.
    case cutNewLeader
    /// The next write of a tracker that cuts a conflicting log suffix is torn by a crash.
    case crashTearingTruncation
    /// A tracker's next sync stalls for 0.1–2 s (a disk that stops answering for a while).
    case diskStall
    /// An operator restarts a tracker cleanly (a rolling upgrade): as tracker-node's shutdown,
    /// a leader first hands leadership to its most caught-up follower (up to 1 s), then the
    /// process exits (what it wrote stays on disk) and starts again later.
    case cleanRestart
}

/// One seed's fault rates, drawn from the seed itself (swarm testing): some seeds are calm,
/// some lossy, some crash-heavy, and each switches some fault kinds off altogether.
struct FaultProfile: Sendable {
    var lossRate = 0.0
    var duplicateRate = 0.0
    var delayMinMicros: UInt64 = 500
    var delayMaxMicros: UInt64 = 3_000
    /// Chance that a message is held back much longer (reordering it past later ones).
    var longDelayRate = 0.0
    var longDelayMaxMicros: UInt64 = 200_000
    /// Mean time between injector actions.
    var faultIntervalMeanMillis: UInt64 = 1_000
    var enabledKinds: [FaultKind] = []
    /// Largest clock-rate change, e.g. 0.2 for rates in 0.8...1.2.
    var clockSkewMax = 0.0

    /// A quiet network: no loss, short delays, no faults.
    static let calm = FaultProfile()

    static func draw(using random: inout SeededGenerator) -> FaultProfile {
        var p = FaultProfile()
        p.lossRate = [0.0, 0.001, 0.01, 0.05, 0.2].randomElement(using: &random)!
        p.duplicateRate = [0.0, 0.01, 0.05].randomElement(using: &random)!
        p.delayMinMicros = [200, 1_000, 5_000].randomElement(using: &random)!
        p.delayMaxMicros = p.delayMinMicros * [2, 5, 20].randomElement(using: &random)!
        p.longDelayRate = [0.0, 0.01, 0.05].randomElement(using: &random)!
        p.faultIntervalMeanMillis = [200, 500, 1_000, 3_000].randomElement(using: &random)!
        p.enabledKinds = FaultKind.allCases.filter { _ in Bool.random(using: &random) }
        if !p.enabledKinds.contains(.healNetwork) { p.enabledKinds.append(.healNetwork) }
        p.clockSkewMax = [0.0, 0.05, 0.3].randomElement(using: &random)!
        return p
    }

    var summary: String {
        "loss=\(lossRate) dup=\(duplicateRate) delay=\(delayMinMicros)-\(delayMaxMicros)us long=\(longDelayRate) "
            + "faultEvery=\(faultIntervalMeanMillis)ms skew=\(clockSkewMax) kinds=\(enabledKinds.map { "\($0)" }.joined(separator: ","))"
    }
}

/// A broken invariant: what, when, and the details.
public struct Violation: Sendable, CustomStringConvertible {
    /// The invariant's name, e.g. "one leader per term".
    public var invariant: String
    /// Simulated time in microseconds.
    public var timeMicros: UInt64
    /// What was seen.
    public var detail: String

    public var description: String { "\(invariant) at t=\(timeMicros / 1_000)ms: \(detail)" }
}

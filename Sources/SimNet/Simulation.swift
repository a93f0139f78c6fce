import Consensus
import SeededRandom
import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

/// Simulation-only token "hash": NOT cryptography. It pads the token to the state machine's
/// minimum hash length so no SHA-256 runs; tracker-node uses libcrypto.
let simTokenHash: @Sendable ([UInt8]) -> TokenHash = { token in TokenHash(token + [UInt8](repeating: 0xA5, count: 16)) }

/// Simulation-only password "hash": NOT cryptography. It stands in for PBKDF2 so a run costs
/// microseconds; tracker-node uses libcrypto.
func simPasswordHash(_ password: String, salt: [UInt8]) -> [UInt8] {
    var out = salt + Array(password.utf8)
    while out.count < 32 { out.append(0x5A) }
    return out
}

/// One simulated tracker: the real `TrackerHost` (Raft core + state machine) over a simulated
/// disk, with its own clock rate.
struct SimNode {
    let id: NodeID
    /// The running process: the production executor around the real host, boxed so a window
    /// mutates it in place. Stale (and unused) while the node is down. While a window runs,
    /// nothing but the window touches it.
    var box: ExecutorBox
    /// The running process's host, read-only.
    var host: TrackerHost {
        _read { yield box.executor.host } // borrowed: a copy would retain every field of the host
    }
    var isUp = true
    /// Replaced by an empty disk when the tracker is wiped.
    var disk: SimDisk
    /// Bumped at every crash, so events meant for the old process are dropped.
    var epoch = 0
    var isPaused = false
    /// Inputs waiting for the node's next window, in arrival order (tracker-node's input
    /// queue): everything queued is handled in one window, then the batches are carried out.
    var inbox: [HostInput] = []
    /// Whether a `.process` event is scheduled.
    var isProcessScheduled = false
    /// Until when the node is busy carrying out its last window (its fsyncs take time);
    /// inputs arriving meanwhile wait for the next window.
    var busyUntilMicros: UInt64 = 0
    /// Real time between two of this node's ticks (10 ms scaled by its clock rate).
    var tickMicros: UInt64 = Simulation.tickMicros
    /// Its data directory's incarnation (0 for the seed trackers, random for trackers added
    /// at runtime).
    var incarnation: UInt64 = 0
    /// This node's own clock, in milliseconds; it keeps running across restarts.
    var localMillis: UInt64 = 0
    /// Highest commit index already checked against the cluster's committed log.
    var checkedCommit: UInt64 = 0
    /// The last role seen, for the trace.
    var lastRole: Role = .follower
    /// Planted by the injector: the next write with entries is torn by a crash.
    var tearsNextWrite = false
    /// Planted by the injector: the next sync stalls this long (a disk that stops answering for
    /// a while); inputs pile up meanwhile and are handled in one window.
    var stallNextSyncMicros: UInt64 = 0
    /// Planted by the injector: the next write that cuts a log suffix is torn by a crash.
    var tearsNextTruncatingWrite = false
    /// Planted by the injector: the next snapshot write (taken or installed) is torn by a crash.
    var tearsNextSnapshot = false
    /// For a planted snapshot crash: whether the rename happened first (nil draws it).
    var isTornSnapshotRenamed: Bool?
    /// The index of the last snapshot whose write a crash tore.
    var tornSnapshotIndex: UInt64?
    /// Times this node crashed.
    var crashCount = 0
    /// Snapshots this node made durable: taken from its own state, and installed from a leader.
    var snapshotsTaken = 0
    var snapshotsInstalled = 0
    /// InstallSnapshot messages this node sent as leader.
    var snapshotsSent = 0
    /// Restores received snapshots off the event loop (tracker-node's restorer thread).
    var restorer = SimRestorer()
}

/// A tracker process's executor, held by reference so that carrying out a window does not
/// copy the whole host.
final class ExecutorBox {
    var executor: HostExecutor

    init(_ executor: HostExecutor) { self.executor = executor }
}

/// A deterministic simulation of a tracker cluster: N real `TrackerHost`s, simulated clients
/// driving the real `LeaderFinder`, a simulated network, disk and clock, and invariant checkers
/// that run after every step. Everything is a function of the seed: one event queue ordered by
/// (time, insertion counter), one seeded generator for every choice, no threads, no clocks.
public final class Simulation {
    /// Real time between two ticks of a tracker with an exact clock.
    public static let tickMicros: UInt64 = 10_000
    /// The most inputs a paused tracker holds; later ones are dropped like a full socket buffer.
    static let inboxMax = 4_096
    /// The most batches one drain may take before it is a livelock.
    static let drainBatchesMax = 10_000

    /// The seed everything derives from.
    public let seed: UInt64
    /// The options the run was made with.
    public let options: SimOptions
    /// Simulated time now, in microseconds.
    public internal(set) var nowMicros: UInt64 = 0
    /// The event trace so far.
    public internal(set) var trace: Trace
    /// Every invariant broken so far; the run stops at the first.
    public internal(set) var violations: [Violation] = []

    var random: SeededGenerator
    var queue = EventQueue()
    var nodes: [SimNode] = []
    var clients: [SimClient] = []
    var profile = FaultProfile.calm
    /// The fault rates this seed drew, for the report.
    var drawnProfile = FaultProfile.calm
    /// `blocked[from][to]`: messages on this link are lost.
    var blocked: [[Bool]]
    /// Cut links that keep their connection, and what waits on them.
    var held = HeldLinks()
    var checker = ClusterChecker()
    var history = ClientHistory()
    let hostOptions: HostOptions
    /// Each tracker's own snapshot threshold, in seeds that give them different ones.
    let snapshotEntriesByNode: [UInt64]?
    /// The tracker on slower hardware, in seeds that have one.
    let slowTracker: SlowTracker?
    /// How long the trackers' own work takes in this run.
    public let timing: HostTiming
    /// Whether the heal keeps only a majority core up and connected (see `heal`).
    public internal(set) var isLivenessMode = false
    /// In liveness mode, after the heal: the trackers that must finish the work.
    public internal(set) var livenessCore: [Int]?
    /// How often each interesting path was taken (the sweep's coverage table).
    public internal(set) var coverage = Coverage()
    /// Raft's `appendEntriesMax` on every tracker of this run.
    let appendEntriesMax: Int
    let peers: [NodeID]
    /// The seed configuration: every tracker a voter, or the last one the witness.
    let initialConfiguration: Configuration
    /// When faults stopped, once they have.
    var healedAtMicros: UInt64?
    /// Armed by the injector: the next tracker to become leader is cut off soon after.
    var isCuttingNextLeader = false
    /// Clients stop starting operations after this time, so the cluster can settle.
    var clientsStopMicros: UInt64 = .max
    /// Every replica must have applied this far when the run ends.
    var convergenceTarget: UInt64 = 0
    /// Events handled.
    public internal(set) var eventCount: UInt64 = 0
    /// The membership changes drawn so far (`Simulation+Membership.swift`).
    var membership = MembershipDraws()

    /// Makes a cluster of `options.nodeCount` empty trackers and `options.clientCount` clients.
    public init(seed: UInt64, options: SimOptions = SimOptions()) {
        options.validate()
        self.seed = seed
        self.options = options
        random = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x5151)
        trace = Trace(sink: options.traceSink)
        peers = (1...UInt64(options.nodeCount)).map { $0 }
        let witness = options.hasWitness ? peers.last : nil
        initialConfiguration = try! Configuration(peers.map { Member(id: $0, role: $0 == witness ? .witness : .voter) })
        blocked = Array(repeating: Array(repeating: false, count: options.nodeCount), count: options.nodeCount)
        var hostOptions = HostOptions()
        for id in peers { hostOptions.addresses[id] = "10.0.0.\(id):7000" }
        hostOptions.snapshotThresholdEntries = options.snapshotThresholdEntries ?? [5, 10, 25, 100, 400, 10_000].randomElement(using: &random)!
        hostOptions.retainedEntries = hostOptions.snapshotThresholdEntries / 5
        hostOptions.plantedBug = options.plantedBug.hostBug
        // With membership changes, half the seeds leave promotions to the driver (no pins either).
        if options.isMembershipOn { hostOptions.isMembershipMaintained = Bool.random(using: &random) }
        self.hostOptions = hostOptions
        snapshotEntriesByNode = options.snapshotThresholdEntries == nil && options.isFaultInjectionOn
            ? Self.drawSnapshotEntriesByNode(base: hostOptions.snapshotThresholdEntries, nodeCount: options.nodeCount, using: &random) : nil
        slowTracker = options.isFaultInjectionOn ? SlowTracker.draw(nodeCount: options.nodeCount, using: &random) : nil
        timing = options.hostTiming ?? (options.isFaultInjectionOn ? HostTiming.draw(using: &random) : HostTiming())
        let defaultAppendEntriesMax = RaftConfig(id: 1, peers: [1]).appendEntriesMax
        appendEntriesMax = options.appendEntriesMax
            ?? (options.isFaultInjectionOn ? [1, 4, defaultAppendEntriesMax, defaultAppendEntriesMax].randomElement(using: &random)! : defaultAppendEntriesMax)
        for id in peers {
            let disk = makeDisk()
            let host = Self.makeHost(id: id, configuration: initialConfiguration, disk: disk, options: nodeHostOptions(Int(id) - 1),
                                     appendEntriesMax: appendEntriesMax, seed: random.next(), plantedBug: options.plantedBug)
            nodes.append(SimNode(id: id, box: ExecutorBox(HostExecutor(host: host)), disk: disk))
        }
        for index in nodes.indices {
            // Stagger the clocks so ticks of different trackers do not all coincide.
            queue.schedule(.tick(node: index), atMicros: UInt64.random(in: 1...Self.tickMicros, using: &random))
        }
        let trackers = peers.map { LeaderFinder.Tracker(id: $0, address: hostOptions.addresses[$0]!) }
        for index in 0..<options.clientCount {
            clients.append(SimClient(index: index, clientID: UInt64(index + 1) << 32 | (random.next() & 0xFFFF_FFFF),
                                     finder: LeaderFinder(trackers: trackers, seed: random.next())))
            if options.isClientLoadOn { scheduleClientWake(index, afterMicros: UInt64.random(in: 0...100_000, using: &random)) }
        }
        scheduleLogCheck()
    }

    /// Whether an invariant has been broken.
    public var hasViolation: Bool { !violations.isEmpty }

    /// Handles every event up to and including `millis` of simulated time, or until the first
    /// violation.
    public func run(untilMillis millis: UInt64) {
        let limit = millis * 1_000
        while !hasViolation, let next = queue.nextTimeMicros, next <= limit {
            let event = queue.popFirst()!
            nowMicros = event.timeMicros
            eventCount += 1
            handle(event.kind)
        }
        if !hasViolation { nowMicros = max(nowMicros, limit) }
    }

    func handle(_ kind: EventKind) {
        switch kind {
        case let .tick(node): handleTick(node)
        case let .deliver(message): deliverToNode(Int(message.to) - 1, kind)
        case let .request(node, _, _, _): deliverToNode(node, kind)
        case let .passwordDone(node, epoch, _, _):
            if nodes[node].epoch == epoch { deliverToNode(node, kind) }
        case let .response(client, attempt, response): clientReceived(client, attempt: attempt, response)
        case let .clientWake(client, attempt): clientWoke(client, attempt: attempt)
        case let .refused(client, attempt):
            if clients[client].attempt == attempt, clients[client].current != nil { decide(client, .failed("connection refused")) }
        case let .clientTimeout(client, attempt): clientTimedOut(client, attempt: attempt)
        case let .process(node, epoch):
            if nodes[node].epoch == epoch { process(node) }
        case let .snapshotJobDone(node, epoch, job):
            if nodes[node].epoch == epoch, nodes[node].isUp { finishSnapshotJob(node, job) }
        case let .snapshotRestored(node, epoch, message):
            if nodes[node].epoch == epoch, nodes[node].isUp { finishRestore(node, message) }
        case let .cleanExit(node, epoch, deadline):
            if nodes[node].epoch == epoch, nodes[node].isUp { continueCleanExit(node, deadlineMicros: deadline) }
        case let .restart(node, epoch):
            if nodes[node].epoch == epoch, !nodes[node].isUp { restart(node) }
        case let .resume(node, epoch):
            if nodes[node].epoch == epoch { resume(node) }
        case let .unclog(from, to):
            if healedAtMicros == nil { setLink(from: from, to: to, isBlocked: false) } // after the heal, it decides the links
        case let .cutNewLeader(node, epoch):
            if nodes[node].epoch == epoch { cutNewLeader(node) }
        case .injectFault: injectFault()
        case let .membershipChange(isPeriodic): membershipChange(isPeriodic: isPeriodic)
        case let .membershipAmbush(oldLeader, voter): joinAmbush(oldLeader: oldLeader, voter: voter)
        case .heal: heal()
        case .checkLeaderAfterHeal: checkLeaderAfterHeal()
        case .checkPendingAfterHeal: checkPendingAfterHeal()
        case .markConvergenceTarget: convergenceTarget = UInt64(checker.committedTerms.count)
        case .checkLogs:
            checkLogMatching()
            scheduleLogCheck()
        }
    }

    func scheduleLogCheck() {
        queue.schedule(.checkLogs, atMicros: nowMicros + ClusterChecker.logCheckIntervalMicros)
    }

    /// Records a broken invariant; the run stops.
    func fail(_ invariant: String, _ detail: String) {
        violations.append(Violation(invariant: invariant, timeMicros: nowMicros, detail: detail))
        trace.record(nowMicros, TraceCode.violation.rawValue, UInt64(violations.count), 0, 0, 0, "VIOLATION \(invariant): \(detail)")
    }

    /// Draws true with probability `p`.
    func chance(_ p: Double) -> Bool {
        p > 0 && Double.random(in: 0..<1, using: &random) < p
    }
}

/// Codes that identify trace events in the hash.
enum TraceCode: UInt64 {
    case deliver = 1, dropPartition, dropLoss, dropDown, duplicate, role, crash, restart, pause, resume
    case partition, heal, clientOp, clientResult, clientRetry, skew, tornWrite, violation, holdPaused, request
    case snapshot, tornSnapshot, wipe, membership
}

import Consensus
import TrackerProtocol
import TrackerStateMachine

/// Everything that reaches a tracker host, from whichever thread or simulated event made it.
public enum HostInput: Sendable {
    /// Time passed: one Raft tick at the tracker's wall clock (`nowMillis`).
    case tick(nowMillis: UInt64)
    /// A Raft message from an authenticated peer; for a snapshot, its state may already be
    /// restored off the event loop.
    indirect case raft(Message, restored: TrackerStateMachine?)
    /// A client's request and where its answer goes; `certificate` is the fingerprint its TLS
    /// connection presented (empty: none), nil without TLS.
    case request(ClientRequest, ReplyTarget, certificate: [UInt8]? = nil)
    /// A finished password job.
    case passwordDone(id: UInt64, outcome: PasswordOutcome)
    /// A snapshot job's result, made durable by the shell (nil: it failed).
    case snapshotWritten(Snapshot?)
    /// An operator's membership request, from a connection that proved the cluster key.
    case admin(AdminRequest, ReplyTarget)
}

/// The effects of carrying out batches: the seam between the executor's rules and a world.
/// tracker-node performs them with `FileStorage`, sockets and threads; SimNet with its
/// simulated disk, network and event queue. Each call returns once the effect is done (a
/// persist once it is durable when asked to sync); a throwing call means the store failed, or
/// in SimNet that the node crashed in the middle: the executor stops at once.
public protocol HostEffects {
    /// Makes a snapshot received from the leader durable (before anything depends on it).
    mutating func persistSnapshot(_ snapshot: Snapshot) throws
    /// Writes a batch's hard state and entries; durable before returning when `mustSync`.
    mutating func persist(hardState: HardState?, entries: [Entry], mustSync: Bool) throws
    /// Sends Raft messages to other trackers.
    mutating func send(_ messages: [Message])
    /// Sends answers to clients.
    mutating func reply(_ replies: [Reply])
    /// Starts slow password work; each result comes back as `HostInput.passwordDone`.
    mutating func startPasswordJobs(_ jobs: [PasswordJob])
    /// Starts serializing and writing a snapshot; the result comes back as
    /// `HostInput.snapshotWritten`, possibly much later.
    mutating func startSnapshotJob(_ job: SnapshotJob)
    /// Deletes stored log entries through `index`, which a durable snapshot covers.
    mutating func compactLog(through index: UInt64) throws
    /// Called before a batch is carried out, with the order chosen for it (for logs and checks).
    mutating func willCarryOut(_ batch: HostBatch, order: BatchOrder)
    /// Called after a batch was carried out and acknowledged, with the host as it is now.
    mutating func didCarryOut(_ batch: HostBatch, host: TrackerHost)
}

extension HostEffects {
    /// Does nothing.
    public mutating func willCarryOut(_ batch: HostBatch, order: BatchOrder) {}
    /// Does nothing.
    public mutating func didCarryOut(_ batch: HostBatch, host: TrackerHost) {}
}

/// In which order a batch's writes and messages go.
public enum BatchOrder: Sendable, Equatable {
    /// Write (and fsync) first, then send: anything a message could depend on is durable.
    case persistThenSend
    /// A leader's batch that only appends its own entries: send them while they are written
    /// (Raft thesis §10.2.1); the leader counts itself toward commit only once they are
    /// durable, in `advance()`.
    case sendThenPersist
}

/// The one component that carries out a `TrackerHost`'s batches. The rules live here and only
/// here; tracker-node and SimNet both run it and differ only in their `HostEffects`.
///
/// For each batch, in order:
/// 1. choose the order: a leader's append-only batch (no change of role, term or vote, no
///    snapshot) may send before it writes; every other batch writes first. A message never
///    leaves before a changed term or vote it depends on is durable.
/// 2. a snapshot from the leader is made durable before the batch's entries and hard state;
/// 3. write and send in that order; then answer the batch's replies (after the write) and
///    start its password jobs;
/// 4. `advance()`: the host applies what committed (installing an accepted snapshot's state
///    first) and serves reads; its replies go out after the apply;
/// 5. start the snapshot job, if the host asked for one.
/// A snapshot job's result is applied through `handle(.snapshotWritten)`: a stale one (a newer
/// snapshot was installed while it ran) changes nothing; otherwise the log is compacted.
public struct HostExecutor: Sendable {
    /// The host this executor drives.
    public private(set) var host: TrackerHost
    /// Term and vote last made durable: a message waits for them.
    public private(set) var durableTerm: UInt64
    /// See `durableTerm`.
    public private(set) var durableVote: NodeID
    /// Batches carried out per `drain` call at most, so a shell keeps ticking on time.
    public var batchesPerDrainMax = 64
    /// What the executor did, for coverage reports and metrics.
    public private(set) var counters = ExecutorCounters()

    /// Counts of the executor's paths.
    public struct ExecutorCounters: Equatable, Sendable {
        /// Batches carried out.
        public var batches = 0
        /// Leader batches sent before they were durable.
        public var sentBeforePersist = 0
        /// Batches that installed a snapshot from the leader.
        public var snapshotsInstalled = 0
        /// Snapshot job results applied (the log compacted).
        public var snapshotJobsApplied = 0
        /// Snapshot job results that came back stale and were ignored.
        public var snapshotJobsStale = 0
    }

    /// Takes over a host just made from storage (whose term and vote are durable).
    public init(host: TrackerHost) {
        self.host = host
        durableTerm = host.raft.term
        durableVote = host.raft.vote
    }

    /// Hands one input to the host. Only a snapshot job's result has an effect of its own
    /// (compacting the log), so only that can throw.
    public mutating func handle(_ input: HostInput, effects: inout some HostEffects) throws {
        switch input {
        case let .tick(nowMillis):
            host.tick(nowMillis: nowMillis)
        case let .raft(message, restored):
            host.receive(message, restoredMachine: restored)
        case let .request(request, target, certificate):
            host.submit(request, replyTo: target, certificate: certificate)
        case let .passwordDone(id, outcome):
            host.completePasswordJob(id: id, outcome: outcome)
        case let .admin(request, target):
            host.submitAdmin(request, replyTo: target)
        case let .snapshotWritten(snapshot):
            guard let snapshot else {
                host.snapshotFailed()
                return
            }
            guard let through = host.snapshotTaken(snapshot) else {
                counters.snapshotJobsStale += 1
                return
            }
            counters.snapshotJobsApplied += 1
            try effects.compactLog(through: through)
        }
    }

    /// Asks a leader to hand over leadership (clean shutdown); false when it cannot.
    public mutating func transferLeadership() -> Bool { host.transferLeadership() }

    /// Carries out ready batches, at most `batchesPerDrainMax`. Returns whether work remains.
    /// A throw (the store failed, or a simulated crash) stops at once: nothing that depended on
    /// the failed write was sent or acknowledged.
    @discardableResult
    public mutating func drain(effects: inout some HostEffects) throws -> Bool {
        var count = 0
        while host.hasReady && count < batchesPerDrainMax {
            count += 1
            try carryOut(host.ready(), effects: &effects)
        }
        return host.hasReady
    }

    private mutating func carryOut(_ batch: HostBatch, effects: inout some HostEffects) throws {
        let order = chooseOrder(batch.raft)
        effects.willCarryOut(batch, order: order)
        counters.batches += 1
        if order == .sendThenPersist {
            counters.sentBeforePersist += 1
            effects.send(batch.raft.messages)
            try persist(batch.raft, effects: &effects)
        } else {
            try persist(batch.raft, effects: &effects)
            effects.send(batch.raft.messages)
        }
        effects.reply(batch.replies)
        effects.startPasswordJobs(batch.passwordJobs)
        effects.reply(host.advance())
        if let job = batch.snapshotJob { effects.startSnapshotJob(job) }
        effects.didCarryOut(batch, host: host)
    }

    /// Which order a batch may take (see the type's rules).
    func chooseOrder(_ rd: Ready) -> BatchOrder {
        if host.options.plantedBug == .persistAfterSendVote, let hard = rd.hardState,
           hard.term != durableTerm || hard.vote != durableVote {
            return .sendThenPersist
        }
        guard host.raft.role == .leader, rd.softState == nil, rd.snapshot == nil else { return .persistThenSend }
        guard let hard = rd.hardState else { return .sendThenPersist }
        return hard.term == durableTerm && hard.vote == durableVote ? .sendThenPersist : .persistThenSend
    }

    private mutating func persist(_ rd: Ready, effects: inout some HostEffects) throws {
        if let snapshot = rd.snapshot {
            try effects.persistSnapshot(snapshot)
            counters.snapshotsInstalled += 1
        }
        guard rd.hardState != nil || !rd.entries.isEmpty else { return }
        try effects.persist(hardState: rd.hardState, entries: rd.entries, mustSync: rd.mustSync)
        if let hard = rd.hardState {
            durableTerm = hard.term
            durableVote = hard.vote
        }
    }
}

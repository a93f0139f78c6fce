import SeededRandom

/// A Raft node as a pure state machine (the shape of etcd raft's `RawNode`).
///
/// Inputs: `tick()`, `step(_:)` for a received message, `propose(_:)`, `readIndex(requestID:)`
/// and `transferLeadership(to:)`. Output: `ready()` hands the host one `Ready` batch, which it
/// carries out in order (persist, send, apply) and acknowledges with `advance()` before giving
/// the node any further input. The node reads no clock, draws randomness only from its seeded
/// generator, and performs no I/O.
public struct RaftNode: Sendable {
    /// The configuration the node was started with.
    public let config: Config
    let quorum: Int

    /// Current term.
    public internal(set) var term: UInt64 = 0
    /// Who this node voted for in `term`, or 0.
    public internal(set) var vote: NodeID = 0
    /// The leader known in `term`, or 0.
    public internal(set) var leader: NodeID = 0
    /// This node's role.
    public internal(set) var role: Role = .follower

    var log: RaftLog
    /// The newest snapshot this node holds (its own, or installed from a leader).
    public internal(set) var snapshotMeta: SnapshotMeta?
    /// A snapshot received from the leader, for the next Ready.
    var pendingSnapshot: Snapshot?
    /// Where the snapshot accepted from the leader ends, until the next `ready()` hands it to
    /// the host: a host uses it to keep only the state of the snapshot Raft accepted.
    public var pendingSnapshotMeta: SnapshotMeta? { pendingSnapshot?.meta }
    /// Whether this node's commit index is at an entry of its own term (a leader that has
    /// committed in its term knows every entry committed before it).
    public var hasCommittedInTerm: Bool { log.term(at: log.committed) == term }
    var random: SeededGenerator
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var votes: [NodeID: Bool] = [:]
    var progress: [NodeID: Progress] = [:]
    var transferee: NodeID = 0
    var uncommittedBytes = 0
    var needsBroadcast = false
    var reads = ReadQueue()
    /// Messages and campaigns the node refused, for the host to log.
    public internal(set) var refusals = RefusalCounts()

    var messages: [Message] = []
    var readStates: [ReadState] = []
    var droppedReads: [UInt64] = []
    var lastHardState: HardState
    var lastSoftState: SoftState?
    var isAwaitingAdvance = false
    var pendingReady: (lastIndex: UInt64, lastTerm: UInt64, applied: UInt64)?

    /// Starts a node from what its storage holds. `applied` is the index the host's state
    /// machine already reflects (0 when it starts empty).
    public init(config: Config, persisted: PersistedState, applied: UInt64 = 0) throws {
        try config.validate()
        if let violation = persisted.violation { throw StoredStateError(reason: violation) }
        self.config = config
        quorum = config.peers.count / 2 + 1
        random = SeededGenerator(seed: config.randomSeed)
        snapshotMeta = persisted.snapshot?.meta
        log = RaftLog(snapshot: snapshotMeta, entries: persisted.entries, committed: persisted.hardState.commit, applied: applied)
        term = persisted.hardState.term
        vote = persisted.hardState.vote
        if log.lastTerm > term {
            // A crash between writing entries and the hard state of the same batch: the entries
            // prove the term was reached. The vote of that batch was never sent (messages go
            // out only after the batch is durable), so it is safe to forget.
            term = log.lastTerm
            vote = 0
        }
        lastHardState = persisted.hardState
        becomeFollower(term: term, leader: 0)
        lastSoftState = softState
    }

    // MARK: - Queries

    /// The highest committed index.
    public var commitIndex: UInt64 { log.committed }
    /// The highest index handed to the host to apply.
    public var appliedIndex: UInt64 { log.applied }
    /// The last index in the log.
    public var lastIndex: UInt64 { log.lastIndex }
    /// The term of the last entry in the log.
    public var lastTerm: UInt64 { log.lastTerm }
    /// The soft state now.
    public var softState: SoftState { SoftState(leader: leader, role: role, term: term) }
    /// The hard state now.
    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    /// For a leader: each follower's match index (how far its log is known to agree).
    public var matchIndexes: [(id: NodeID, match: UInt64)] {
        progress.keys.sorted().map { ($0, progress[$0]!.match) }
    }
    /// The term of the entry at `index`, if the log holds it.
    public func term(at index: UInt64) -> UInt64? { log.term(at: index) }
    var isSingleNode: Bool { config.peers.count == 1 }
    var otherPeers: [NodeID] { config.peers.filter { $0 != config.id } }

    // MARK: - Inputs

    /// Advances logical time by one tick: followers count toward an election, leaders toward
    /// a heartbeat and a quorum check.
    public mutating func tick() {
        precondition(!isAwaitingAdvance, "input before advance()")
        if role == .leader { tickLeader() } else { tickElection() }
    }

    /// Handles a message from another node. A message that fails validation (not addressed to
    /// this node, from a node outside the cluster, numbers beyond `config.messageLimits`,
    /// inconsistent entries, ...) is ignored and counted in `refusals`.
    public mutating func step(_ message: Message) {
        precondition(!isAwaitingAdvance, "input before advance()")
        if let refusal = refusal(of: message) {
            refusals.record(refusal)
            return
        }
        stepTerm(message)
    }

    /// Why `step` would ignore `m`, or nil: addressing, the stateless checks, and what this
    /// node's state shows no correct sender produces.
    public func refusal(of m: Message) -> MessageRefusal? {
        guard m.to == config.id else { return .wrongRecipient }
        guard m.from != config.id, config.peers.contains(m.from) else { return .unknownSender }
        if let refusal = m.validationError(limits: config.messageLimits) { return refusal }
        // A follower acknowledges only entries this leader sent it in this term (or entries
        // committed before it, which this leader holds): never more than its log.
        if role == .leader, m.term == term, m.kind == .appendResponse, !m.reject, m.index > log.lastIndex {
            return .acknowledgesBeyondLog
        }
        return nil
    }

    /// Whether the term is at `config.messageLimits.termMax`: the node will not campaign.
    public var isTermExhausted: Bool { term >= config.messageLimits.termMax }

    /// Proposes opaque bytes for the log; only a leader accepts.
    public mutating func propose(_ data: [UInt8]) throws(ProposalError) -> ProposalTicket {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard transferee == 0 else { throw .transferring }
        let entry = Entry(term: term, index: log.lastIndex + 1, kind: .normal, data: data)
        guard entry.sizeBytes <= config.appendBytesMax else { throw .entryTooLarge }
        guard uncommittedBytes + entry.sizeBytes <= config.uncommittedBytesMax else { throw .uncommittedBytesExceeded }
        uncommittedBytes += entry.sizeBytes
        appendToLeaderLog(entry)
        return ProposalTicket(index: entry.index, term: entry.term)
    }

    /// Asks for a linearizable read (ReadIndex, dissertation §6.4). The answer arrives as a
    /// `ReadState` in a later `Ready` once leadership is confirmed, or in `droppedReads`.
    public mutating func readIndex(requestID: UInt64) throws(ProposalError) {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard reads.count < config.pendingReadsMax else { throw .tooManyPendingReads }
        reads.add(requestID, isCommittedInTerm: log.term(at: log.committed) == term)
        if isSingleNode { confirmReadsIfSingle() }
    }

    /// Asks the leader to hand leadership to `target` (TimeoutNow once its log is current).
    /// It gives up after one election timeout.
    public mutating func transferLeadership(to target: NodeID) throws(ProposalError) {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard target != config.id, config.peers.contains(target) else { return }
        if transferee == target { return }
        transferee = target
        electionElapsed = 0
        if progress[target]!.match == log.lastIndex {
            send(Message(kind: .timeoutNow, from: config.id, to: target, term: term))
        } else {
            sendAppend(to: target, sendIfEmpty: true)
        }
    }

    // MARK: - Ready / advance

    /// Whether `ready()` has anything for the host.
    public var hasReady: Bool {
        guard !isAwaitingAdvance else { return false }
        return softState != lastSoftState || hardState != lastHardState || log.lastIndex > log.stable
            || pendingSnapshot != nil || !messages.isEmpty || log.committed > log.applied || !readStates.isEmpty || !droppedReads.isEmpty
            || (role == .leader && (needsBroadcast || hasReadRoundToStart))
    }

    /// Takes the next batch of work. The host must call `advance()` after carrying it out and
    /// before any other input.
    public mutating func ready() -> Ready {
        precondition(!isAwaitingAdvance, "ready() twice without advance()")
        if role == .leader { flushLeaderSends() }
        var batch = Ready()
        let soft = softState
        if soft != lastSoftState { batch.softState = soft }
        let hard = hardState
        if hard != lastHardState { batch.hardState = hard }
        batch.snapshot = pendingSnapshot
        pendingSnapshot = nil
        batch.entries = log.entries(from: log.stable + 1, through: log.lastIndex)
        batch.mustSync = !batch.entries.isEmpty || batch.snapshot != nil
            || hard.term != lastHardState.term || hard.vote != lastHardState.vote
        batch.messages = messages
        batch.committedEntries = log.nextEntriesToApply(maxCount: config.applyEntriesMax)
        batch.readStates = readStates
        batch.droppedReads = droppedReads
        messages.removeAll()
        readStates.removeAll()
        droppedReads.removeAll()
        lastSoftState = soft
        lastHardState = hard
        pendingReady = (log.lastIndex, log.lastTerm, batch.committedEntries.last?.index ?? log.applied)
        isAwaitingAdvance = true
        return batch
    }

    /// Acknowledges that the last `Ready` was carried out: its entries are stable and its
    /// committed entries applied.
    public mutating func advance() {
        precondition(isAwaitingAdvance, "advance() without ready()")
        isAwaitingAdvance = false
        guard let done = pendingReady else { return }
        pendingReady = nil
        log.stable = done.lastIndex
        log.applied = done.applied
        if role == .leader, done.lastTerm == term {
            if progress[config.id]!.maybeUpdate(done.lastIndex) { maybeCommitAndBroadcast() }
        }
    }

    /// The host made `meta` durable as a snapshot of its applied state: entries through
    /// `meta.index - retainedEntries` leave the in-memory log (a little is kept so that a
    /// follower slightly behind gets entries, not a whole snapshot). Followers that need
    /// compacted entries are sent an InstallSnapshot whose bytes the host attaches. A snapshot
    /// the log has moved past (a leader's snapshot was installed while the host wrote this
    /// one) changes nothing.
    public mutating func compact(through meta: SnapshotMeta, retainedEntries: UInt64 = 0) {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard meta.index >= log.offsetIndex else { return }
        precondition(meta.index <= log.applied, "snapshot \(meta.index) beyond applied \(log.applied)")
        precondition(log.term(at: meta.index).map { $0 == meta.term } ?? (meta == snapshotMeta), "snapshot term mismatch")
        if meta.index > (snapshotMeta?.index ?? 0) { snapshotMeta = meta }
        guard meta.index > retainedEntries else { return }
        log.compact(through: meta.index - retainedEntries)
    }

    /// Checks the core's invariants; traps when one is broken. Tests and the simulator call
    /// it after every step.
    public func checkInvariants() {
        log.checkInvariants()
        precondition(log.lastTerm <= term, "last log term \(log.lastTerm) beyond term \(term)")
        precondition(role != .leader || leader == config.id, "leader does not know itself")
        precondition(role == .leader || progress.isEmpty, "non-leader keeps progress")
        precondition(role != .candidate || vote == config.id, "candidate did not vote for itself")
        if role == .leader {
            for (id, pr) in progress {
                precondition(pr.match < pr.next, "progress \(id): match \(pr.match) >= next \(pr.next)")
                precondition(pr.match <= log.lastIndex, "progress \(id) beyond log")
            }
        }
    }
}

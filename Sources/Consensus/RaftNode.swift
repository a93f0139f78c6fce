import SeededRandom

/// A Raft node as a pure state machine (the shape of etcd raft's `RawNode`).
///
/// Inputs: `tick()`, `step(_:)` for a received message, `propose(_:)`,
/// `proposeConfigurationChange(_:)`, `readIndex(requestID:)` and `transferLeadership(to:)`.
/// Output: `ready()` hands the host one `Ready` batch, which it carries out in order (persist,
/// send, apply) and acknowledges with `advance()` before giving the node any further input.
/// The node reads no clock, draws randomness only from its seeded generator, and performs no
/// I/O. What the node does follows its role in the current configuration: a full voter may
/// lead, a learner only follows, a witness holds no log (docs/witness.md).
public struct RaftNode: Sendable {
    /// The configuration the node was started with.
    public let config: RaftConfig

    /// Current term.
    public internal(set) var term: UInt64 = 0
    /// Who this node voted for in `term`, or 0.
    public internal(set) var vote: NodeID = 0
    /// The leader known in `term`, or 0.
    public internal(set) var leader: NodeID = 0
    /// This node's role.
    public internal(set) var role: Role = .follower
    /// On a witness: the highest log position it has acknowledged to a leader (durable, in
    /// the hard state). Zero on every other node.
    public internal(set) var witnessMark = LogMark.zero

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
    /// On a leader: whether the witness counts toward the commit quorum now (the full voters
    /// it hears from are not a quorum by themselves).
    public internal(set) var isWitnessEngaged = false
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
    public init(config: RaftConfig, persisted: PersistedState, applied: UInt64 = 0) throws {
        try config.validate()
        if let violation = persisted.violation { throw StoredStateError(reason: violation) }
        self.config = config
        random = SeededGenerator(seed: config.randomSeed)
        snapshotMeta = persisted.snapshot?.meta
        log = RaftLog(snapshot: snapshotMeta, entries: persisted.entries, committed: persisted.hardState.commit,
                      applied: applied, initial: config.initialConfiguration)
        term = persisted.hardState.term
        vote = persisted.hardState.vote
        witnessMark = persisted.hardState.witnessMark
        if log.configurations.current.role(of: config.id) == .witness, log.lastIndex > 0 {
            throw StoredStateError(reason: "a witness holds no log, but the stored state has entries or a snapshot")
        }
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
    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed, witnessMark: witnessMark) }
    /// For a leader: each member's match index (how far its log is known to agree; for the
    /// witness, how far it has acknowledged the leader's durable log), this node included.
    public var matchIndexes: [(id: NodeID, match: UInt64)] {
        progress.keys.sorted().map { ($0, progress[$0]!.match) }
    }
    /// The term of the entry at `index`, if the log holds it.
    public func term(at index: UInt64) -> UInt64? { log.term(at: index) }

    /// The configuration in force: the last configuration entry in the log, committed or not,
    /// else the snapshot's, else the initial one.
    public var configuration: Configuration { log.configurations.current }
    /// This node's role in the configuration in force, or nil when it is not a member.
    public var memberRole: MemberRole? { configuration.role(of: config.id) }
    /// Whether this node is a witness.
    var isWitness: Bool { memberRole == .witness }
    /// Whether this node may campaign: it is a full voter of the configuration in force (and
    /// the member with its id is this data directory: same incarnation, or none pinned). A full
    /// voter whose own demotion or removal is in its log but not committed may campaign too:
    /// its log may be the only one that can win, and then it leads the new configuration
    /// without counting itself until the change commits (else such a cluster could stall).
    var isPromotable: Bool {
        if isFullVoter(in: configuration) { return true }
        return isConfigurationChangePending && isFullVoter(in: log.configurations.configuration(at: log.committed))
    }

    /// Whether this node is a full voter of `configuration`, under its own incarnation.
    func isFullVoter(in configuration: Configuration) -> Bool {
        guard configuration.role(of: config.id) == .voter, let pinned = configuration.incarnation(of: config.id) else { return false }
        return pinned == 0 || pinned == config.incarnation
    }
    /// The index of the latest configuration entry in the log (0 when the configuration in
    /// force comes from the snapshot or the initial configuration).
    public var configurationIndex: UInt64 { log.configurations.lastChangeIndex }
    /// Whether the configuration in force is not committed yet.
    public var isConfigurationChangePending: Bool { configurationIndex > log.committed }
    var quorum: Int { configuration.quorum }
    /// Whether this node is the only voting member (it commits and confirms reads alone).
    var isSingleNode: Bool { configuration.votingIDs == [config.id] }
    /// Where a leader replicates and sends heartbeats, ascending: every member but this node,
    /// and a member being removed until its removal commits (so that it learns of it).
    var otherPeers: [NodeID] { progress.keys.sorted().filter { $0 != config.id } }
    /// Every voting member but this node, ascending: whom a candidate asks for votes.
    var otherVoters: [NodeID] { configuration.votingIDs.filter { $0 != config.id } }

    // MARK: - Inputs

    /// Advances logical time by one tick: followers count toward an election, leaders toward
    /// a heartbeat and a quorum check.
    public mutating func tick() {
        precondition(!isAwaitingAdvance, "input before advance()")
        if role == .leader { tickLeader() } else { tickElection() }
    }

    /// Handles a message from another node. A message that fails validation (not addressed to
    /// this node, numbers beyond `config.messageLimits`, inconsistent entries, a sender whose
    /// incarnation is not the member's, ...) is ignored and counted in `refusals`.
    public mutating func step(_ message: Message) {
        precondition(!isAwaitingAdvance, "input before advance()")
        if let refusal = refusal(of: message) {
            refusals.record(refusal)
            return
        }
        stepTerm(message)
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

    /// Asks the leader to hand leadership to `target`, a full voter (TimeoutNow once its log is
    /// current). It gives up after one election timeout. Other targets are ignored.
    public mutating func transferLeadership(to target: NodeID) throws(ProposalError) {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard target != config.id, configuration.role(of: target) == .voter, progress[target] != nil else { return }
        if transferee == target { return }
        transferee = target
        electionElapsed = 0
        if progress[target]!.match == log.lastIndex {
            send(Message(kind: .timeoutNow, from: config.id, to: target, term: term))
        } else {
            sendAppend(to: target, sendIfEmpty: true)
        }
    }

    /// For a leader: the full voter (not this node) with the most of the log, the one to hand
    /// leadership to before a restart or before removing this node; nil when there is none.
    public var preferredTransferTarget: NodeID? {
        guard role == .leader else { return nil }
        let candidates = configuration.fullVoterIDs.filter { $0 != config.id && progress[$0] != nil }
        return candidates.max { (progress[$0]!.match, $1) < (progress[$1]!.match, $0) }
    }
}

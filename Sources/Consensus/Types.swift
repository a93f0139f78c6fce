
/// Identifies a Raft node. Ids are small positive integers; 0 means "none".
public typealias NodeID = UInt64

/// What a log entry carries.
public enum EntryKind: UInt8, Sendable {
    /// Opaque bytes proposed by the host (a tracker command).
    case normal = 0
    /// The empty entry a new leader appends at the start of its term.
    case noop = 1
    /// A configuration change: `Configuration.encoded()` of the whole new configuration. It
    /// takes effect on each node as soon as it is in that node's log (dissertation §4.1).
    case configuration = 2
}

/// One entry of the replicated log.
public struct Entry: Equatable, Sendable {
    /// The leader's term when the entry was created.
    public var term: UInt64
    /// The entry's position in the log, from 1.
    public var index: UInt64
    /// Whether it carries host data or is a leader's no-op.
    public var kind: EntryKind
    /// The host's opaque bytes (empty for a no-op).
    public var data: [UInt8]

    /// Makes an entry.
    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Bytes this entry counts for in size limits.
    public var sizeBytes: Int { data.count + 17 }
}

/// A position in a log: an entry's term and index, ordered as Raft compares logs (§5.4.1:
/// the later term wins; in the same term, the higher index).
public struct LogMark: Equatable, Comparable, Sendable {
    /// The entry's term.
    public var term: UInt64
    /// The entry's index.
    public var index: UInt64

    /// Makes a mark.
    public init(term: UInt64, index: UInt64) {
        self.term = term
        self.index = index
    }

    /// The position before any entry.
    public static let zero = LogMark(term: 0, index: 0)

    public static func < (a: LogMark, b: LogMark) -> Bool {
        a.term < b.term || (a.term == b.term && a.index < b.index)
    }
}

/// The state a node must persist before it sends anything that depends on it.
public struct HardState: Equatable, Sendable {
    /// The latest term this node has seen.
    public var term: UInt64
    /// The candidate this node voted for in `term`, or 0.
    public var vote: NodeID
    /// The highest index known committed (persisting it is an optimization, not a rule).
    public var commit: UInt64
    /// A witness's commit mark: the highest log position it has acknowledged to a leader (so
    /// helped commit). A witness grants votes only to candidates whose log reaches it; it must
    /// be durable before the acknowledgement leaves. Always zero on a node with a log.
    public var witnessMark: LogMark

    /// Makes a hard state.
    public init(term: UInt64 = 0, vote: NodeID = 0, commit: UInt64 = 0, witnessMark: LogMark = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
        self.witnessMark = witnessMark
    }
}

/// Where a snapshot ends: the index and term of the last entry it covers, and the
/// configuration in force there (the log entries that held it are gone once the log is
/// compacted, so the snapshot carries it; etcd's `ConfState`).
public struct SnapshotMeta: Equatable, Sendable {
    /// Index of the last entry the snapshot reflects.
    public var index: UInt64
    /// Term of that entry.
    public var term: UInt64
    /// The configuration in force at `index`; nil when the snapshot records none, which means
    /// `RaftConfig.initialConfiguration` (a cluster whose configuration never changed). A host
    /// gets the right value from `RaftNode.snapshotMeta(at:)`.
    public var configuration: Configuration?

    /// Makes snapshot metadata.
    public init(index: UInt64, term: UInt64, configuration: Configuration? = nil) {
        self.index = index
        self.term = term
        self.configuration = configuration
    }
}

/// A state machine snapshot: the host's opaque bytes for the state after applying every entry
/// through `meta.index`.
public struct Snapshot: Equatable, Sendable {
    /// Where it ends.
    public var meta: SnapshotMeta
    /// The host's serialized state.
    public var data: [UInt8]

    /// Makes a snapshot.
    public init(meta: SnapshotMeta, data: [UInt8]) {
        self.meta = meta
        self.data = data
    }
}

/// The kinds of Raft message.
public enum MessageKind: UInt8, Sendable, CaseIterable {
    case appendEntries = 1
    case appendResponse = 2
    case requestVote = 3
    case requestVoteResponse = 4
    case preVote = 5
    case preVoteResponse = 6
    case heartbeat = 7
    case heartbeatResponse = 8
    case timeoutNow = 9
    /// InstallSnapshot (Raft §7): carries `snapshot`; answered with an `appendResponse`.
    case installSnapshot = 10
    /// A leader's append to a witness, without entries: `logTerm` and `index` are the
    /// leader's durable log end, which the witness takes into its commit mark. Answered with
    /// an `appendResponse` acknowledging `index` (docs/witness.md).
    case witnessAppend = 11
}

/// A message between Raft nodes: one flat record whose fields mean what the kind says
/// (the shape of etcd raft's `raftpb.Message`).
public struct Message: Equatable, Sendable {
    /// What the message is.
    public var kind: MessageKind
    /// The sender.
    public var from: NodeID
    /// The sender's incarnation (`RaftConfig.incarnation`): a receiver refuses a message whose
    /// sender is a member with another pinned incarnation.
    public var fromIncarnation: UInt64
    /// The recipient.
    public var to: NodeID
    /// The sender's term (for a pre-vote, the term it would campaign in).
    public var term: UInt64
    /// Append: term of the entry before `entries`. Vote: term of the candidate's last entry.
    /// Rejected append response: term of the follower's entry at `rejectHint`.
    public var logTerm: UInt64
    /// Append: index before `entries`. Vote: candidate's last index. Append response: the
    /// highest index the follower now matches, or on rejection the rejected `index`.
    public var index: UInt64
    /// Entries to append.
    public var entries: [Entry]
    /// The leader's commit index (for a heartbeat, capped at what the follower holds).
    public var commit: UInt64
    /// Whether a response refuses the request.
    public var reject: Bool
    /// On a rejected append: the follower's hint of where the logs may agree.
    public var rejectHint: UInt64
    /// Heartbeat round number for ReadIndex, echoed in the response.
    public var context: UInt64
    /// InstallSnapshot: the snapshot. Hosts move its bytes in chunks; the core sees it whole.
    public var snapshot: Snapshot?

    /// Makes a message; unused fields default to zero.
    public init(
        kind: MessageKind, from: NodeID, to: NodeID, term: UInt64,
        logTerm: UInt64 = 0, index: UInt64 = 0, entries: [Entry] = [], commit: UInt64 = 0,
        reject: Bool = false, rejectHint: UInt64 = 0, context: UInt64 = 0, snapshot: Snapshot? = nil,
        fromIncarnation: UInt64 = 0
    ) {
        self.snapshot = snapshot
        self.kind = kind
        self.from = from
        self.fromIncarnation = fromIncarnation
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.context = context
    }
}

/// A node's role.
public enum Role: UInt8, Sendable, CustomStringConvertible {
    case follower, preCandidate, candidate, leader

    public var description: String {
        switch self {
        case .follower: "follower"
        case .preCandidate: "pre-candidate"
        case .candidate: "candidate"
        case .leader: "leader"
        }
    }
}

/// Volatile facts the host may want to show or act on: who leads, and this node's role.
public struct SoftState: Equatable, Sendable {
    /// The leader this node knows of in the current term, or 0.
    public var leader: NodeID
    /// This node's role.
    public var role: Role
    /// The current term.
    public var term: UInt64
}

/// A read that is now safe to serve once the host has applied up to `index`.
public struct ReadState: Equatable, Sendable {
    /// The host's id for the read, as given to `readIndex`.
    public var requestID: UInt64
    /// The commit index the read must wait for.
    public var index: UInt64
}

/// Why the core refused a proposal, read or transfer.
public enum ProposalError: Error, Equatable, Sendable {
    /// This node is not the leader; `leader` is the one it knows of, or 0.
    case notLeader(leader: NodeID)
    /// A leadership transfer is under way; retry after it ends.
    case transferring
    /// Too many bytes are proposed but not yet committed; retry later.
    case uncommittedBytesExceeded
    /// The proposal is larger than one append may carry.
    case entryTooLarge
    /// Too many reads are waiting for confirmation; retry later.
    case tooManyPendingReads
}

/// Where a proposal landed: if the entry at `index` is later applied with `term`, it was this one.
public struct ProposalTicket: Equatable, Sendable {
    public var index: UInt64
    public var term: UInt64
}

/// One batch of work for the host, carried out in order: persist `hardState` and `entries`
/// (fsync when `mustSync`), then send `messages`, then apply `committedEntries`, then serve
/// `readStates` once applied, and fail `droppedReads`. Then call `advance`.
public struct Ready: Sendable {
    /// Soft state, when it changed since the last batch.
    public var softState: SoftState?
    /// Hard state, when it changed since the last batch.
    public var hardState: HardState?
    /// A snapshot received from the leader: persist it (before the entries), then restore the
    /// state machine from it before applying `committedEntries`.
    public var snapshot: Snapshot?
    /// Entries to write to the log; the first may overwrite (truncate) a stored suffix.
    public var entries: [Entry] = []
    /// Whether the writes must reach stable storage before anything else happens.
    public var mustSync: Bool = false
    /// Messages to send once the writes are done.
    public var messages: [Message] = []
    /// Entries committed and ready to apply, in order.
    public var committedEntries: [Entry] = []
    /// Reads confirmed by a heartbeat round.
    public var readStates: [ReadState] = []
    /// Reads that will never be confirmed here (this node lost leadership): fail or redirect them.
    public var droppedReads: [UInt64] = []

    /// An empty batch.
    public init() {}

    /// Whether the batch carries nothing.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && snapshot == nil && entries.isEmpty && messages.isEmpty
            && committedEntries.isEmpty && readStates.isEmpty && droppedReads.isEmpty
    }
}

/// Named bounds on the numbers a Raft message may carry. They sit far below `UInt64.max`, so
/// that `term + 1`, `index + 1` and `index + entries.count` on a value that passed validation
/// can never overflow.
public struct MessageLimits: Sendable, Equatable {
    /// The highest term a message may carry and a node campaigns for: 2^48 (one election a
    /// millisecond would take 8,900 years to reach it).
    public var termMax: UInt64 = 1 << 48
    /// The highest index (prev index, commit, hint, snapshot index) a message may carry: 2^60
    /// (a million entries a second for 36,000 years).
    public var indexMax: UInt64 = 1 << 60
    /// The most entries one append may carry.
    public var entriesPerMessageMax = RaftCodec.entriesPerMessageMax
    /// The largest payload one entry may carry.
    public var entryDataBytesMax = RaftCodec.entryDataBytesMax
    /// The largest snapshot one InstallSnapshot may carry.
    public var snapshotBytesMax = RaftCodec.snapshotBytesMax

    /// The limits every tracker uses.
    public static let standard = MessageLimits()

    /// Makes the standard limits.
    public init() {}

    /// Why the limits are unusable, or nil: the bounds must leave room for arithmetic.
    var violation: String? {
        guard termMax >= 1, termMax <= UInt64.max / 2 else { return "termMax must be in 1...2^63" }
        guard indexMax >= 1, indexMax <= UInt64.max / 2 else { return "indexMax must be in 1...2^63" }
        guard entriesPerMessageMax >= 1, entriesPerMessageMax <= RaftCodec.entriesPerMessageMax else {
            return "entriesPerMessageMax must be in 1...\(RaftCodec.entriesPerMessageMax)"
        }
        guard entryDataBytesMax >= 0, snapshotBytesMax >= 0 else { return "byte limits must not be negative" }
        return nil
    }
}

/// Why a Raft message was refused before it reached the core's rules. `description` is a
/// constant text a shell can log.
public enum MessageRefusal: String, Equatable, Sendable, CaseIterable, CustomStringConvertible {
    /// `to` is not this node.
    case wrongRecipient
    /// `from` is this node, or 0.
    case unknownSender
    /// `from` is not the peer the connection proved to be.
    case senderNotLinkPeer
    /// `term` is above `MessageLimits.termMax`.
    case termTooLarge
    /// An index field (index, commit, reject hint, snapshot index) is above `indexMax`.
    case indexTooLarge
    /// `logTerm` is above the message's term: no entry of a correct sender's log is newer
    /// than the sender's term.
    case logTermAboveTerm
    /// Entries on a kind other than appendEntries.
    case entriesOnWrongKind
    /// More entries than `entriesPerMessageMax`.
    case tooManyEntries
    /// An entry's payload is above `entryDataBytesMax`.
    case entryTooLarge
    /// A no-op entry that carries data.
    case noopWithData
    /// Entries that do not run `index + 1, index + 2, ...`.
    case entriesNotContiguous
    /// An entry whose term is below the one before it (or below `logTerm`).
    case entryTermDecreasing
    /// An entry whose term is above the message's term.
    case entryTermAboveTerm
    /// A commit index on a kind that carries none (only appends and heartbeats do).
    case commitOnWrongKind
    /// An InstallSnapshot without a snapshot.
    case snapshotMissing
    /// A snapshot on a kind other than InstallSnapshot.
    case snapshotOnWrongKind
    /// A snapshot ending at index 0 (it would cover nothing).
    case snapshotAtIndexZero
    /// A snapshot whose term is 0 or above the message's term.
    case snapshotTermInvalid
    /// A snapshot above `snapshotBytesMax`.
    case snapshotTooLarge
    /// An accepted append response that acknowledges entries beyond the leader's log.
    case acknowledgesBeyondLog
    /// A configuration entry whose data is not a valid configuration, or a snapshot whose
    /// configuration has no members.
    case configurationInvalid
    /// The sender is a member whose configuration entry pins another incarnation: another
    /// data directory under the member's id (a tracker back with an empty disk, say).
    case incarnationMismatch
    /// An answer (response) from a node that is not a member of this node's configuration.
    case answerFromNonMember
    /// Entries or a snapshot sent to a witness, which holds no log.
    case logToWitness
    /// A witness append sent to a node that is not a witness.
    case witnessAppendToNonWitness

    /// A constant, loggable explanation.
    public var description: String {
        switch self {
        case .wrongRecipient: "addressed to another node"
        case .unknownSender: "sender is this node or 0"
        case .senderNotLinkPeer: "sender is not the peer this connection proved to be"
        case .termTooLarge: "term above the maximum"
        case .indexTooLarge: "index above the maximum"
        case .logTermAboveTerm: "log term above the message term"
        case .entriesOnWrongKind: "entries on a message kind that carries none"
        case .tooManyEntries: "too many entries"
        case .entryTooLarge: "entry larger than the maximum"
        case .noopWithData: "no-op entry with data"
        case .entriesNotContiguous: "entries do not continue the previous index one by one"
        case .entryTermDecreasing: "entry terms go down"
        case .entryTermAboveTerm: "entry term above the message term"
        case .commitOnWrongKind: "commit index on a message kind that carries none"
        case .snapshotMissing: "snapshot message without a snapshot"
        case .snapshotOnWrongKind: "snapshot on a message kind that carries none"
        case .snapshotAtIndexZero: "snapshot ending at index 0"
        case .snapshotTermInvalid: "snapshot term is 0 or above the message term"
        case .snapshotTooLarge: "snapshot larger than the maximum"
        case .acknowledgesBeyondLog: "acknowledges entries beyond the leader's log"
        case .configurationInvalid: "configuration entry or snapshot configuration is not a valid configuration"
        case .incarnationMismatch: "sender's incarnation is not the one its membership pins"
        case .answerFromNonMember: "answer from a node that is not a member"
        case .logToWitness: "entries or a snapshot sent to a witness"
        case .witnessAppendToNonWitness: "witness append sent to a node that is not a witness"
        }
    }
}

extension Message {
    /// The stateless checks: what no correct sender produces, whatever the receiver's state.
    /// Returns nil for a message the core may see. Addressing is checked by the overload that
    /// knows the receiver.
    public func validationError(limits: MessageLimits = .standard) -> MessageRefusal? {
        guard term <= limits.termMax else { return .termTooLarge }
        let indexes = [index, commit, rejectHint, snapshot?.meta.index ?? 0]
        guard indexes.allSatisfy({ $0 <= limits.indexMax }) else { return .indexTooLarge }
        guard logTerm <= term else { return .logTermAboveTerm }
        if commit != 0, kind != .appendEntries, kind != .heartbeat { return .commitOnWrongKind }
        if let refusal = entriesError(limits: limits) { return refusal }
        return snapshotError(limits: limits)
    }

    /// The stateless checks plus addressing: `to` must be `selfID`, and `from` the peer the
    /// connection proved (`linkPeer`), never `selfID` itself.
    public func validationError(linkPeer: NodeID, selfID: NodeID, limits: MessageLimits = .standard) -> MessageRefusal? {
        guard to == selfID else { return .wrongRecipient }
        guard from != selfID else { return .unknownSender }
        guard from == linkPeer else { return .senderNotLinkPeer }
        return validationError(limits: limits)
    }

    /// Entries run `index + 1, index + 2, ...` with terms from `logTerm` up to `term`.
    private func entriesError(limits: MessageLimits) -> MessageRefusal? {
        guard !entries.isEmpty else { return nil }
        guard kind == .appendEntries else { return .entriesOnWrongKind }
        guard entries.count <= limits.entriesPerMessageMax else { return .tooManyEntries }
        // index <= indexMax <= 2^63 and count <= 2^16: `expected` cannot overflow.
        var expected = index + 1
        var previousTerm = logTerm
        for entry in entries {
            guard entry.index == expected else { return .entriesNotContiguous }
            guard entry.term >= previousTerm else { return .entryTermDecreasing }
            guard entry.term <= term else { return .entryTermAboveTerm }
            guard entry.data.count <= limits.entryDataBytesMax else { return .entryTooLarge }
            guard entry.kind != .noop || entry.data.isEmpty else { return .noopWithData }
            if entry.kind == .configuration, (try? Configuration(decoding: entry.data)) == nil { return .configurationInvalid }
            expected += 1
            previousTerm = entry.term
        }
        return nil
    }

    private func snapshotError(limits: MessageLimits) -> MessageRefusal? {
        guard let snapshot else { return kind == .installSnapshot ? .snapshotMissing : nil }
        guard kind == .installSnapshot else { return .snapshotOnWrongKind }
        guard snapshot.meta.index > 0 else { return .snapshotAtIndexZero }
        guard snapshot.meta.term > 0, snapshot.meta.term <= term else { return .snapshotTermInvalid }
        guard snapshot.data.count <= limits.snapshotBytesMax else { return .snapshotTooLarge }
        if let configuration = snapshot.meta.configuration, configuration.entryViolation != nil { return .configurationInvalid }
        return nil
    }
}

extension MessageKind {
    /// Whether a leader or a candidate sends it (as opposed to an answer). Requests are
    /// processed whoever sends them; answers only from members.
    var isRequest: Bool {
        switch self {
        case .appendEntries, .heartbeat, .installSnapshot, .witnessAppend, .preVote, .requestVote, .timeoutNow: true
        case .appendResponse, .heartbeatResponse, .preVoteResponse, .requestVoteResponse: false
        }
    }
}

/// Why a node did not campaign when its election timeout fired (or a TimeoutNow arrived).
public enum CampaignRefusal: String, Equatable, Sendable, CustomStringConvertible {
    /// The node's term is at `MessageLimits.termMax` (a stored term from a damaged or attacked
    /// disk): a higher term would not be accepted by any peer. An operator must intervene.
    case termExhausted

    /// A constant, loggable explanation.
    public var description: String {
        switch self {
        case .termExhausted: "term at the maximum: cannot campaign"
        }
    }
}

/// What the core refused, for a shell to log: the core itself never logs.
public struct RefusalCounts: Equatable, Sendable {
    /// Messages `step` ignored because they failed validation.
    public internal(set) var messages: UInt64 = 0
    /// The latest such refusal.
    public internal(set) var lastMessage: MessageRefusal?
    /// Elections this node did not start.
    public internal(set) var campaigns: UInt64 = 0
    /// The latest such refusal.
    public internal(set) var lastCampaign: CampaignRefusal?
    /// On a witness: votes refused because the candidate's log ends before the commit mark.
    public internal(set) var votesBehindWitnessMark: UInt64 = 0

    /// No refusals yet.
    public init() {}

    mutating func record(_ refusal: MessageRefusal) {
        messages &+= 1
        lastMessage = refusal
    }

    mutating func record(_ refusal: CampaignRefusal) {
        campaigns &+= 1
        lastCampaign = refusal
    }
}

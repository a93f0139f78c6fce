/// One single-server configuration change (Raft dissertation §4.1): at most one voting member
/// is added or removed at a time, so that every majority of the old configuration overlaps
/// every majority of the new one.
public enum ConfigurationChange: Equatable, Sendable {
    /// Adds a learner: it receives the log but counts for nothing until promoted.
    /// `fingerprint` pins its TLS certificate (see `Member.fingerprint`; empty: not pinned).
    case addLearner(id: NodeID, address: String, incarnation: UInt64 = 0, fingerprint: [UInt8] = [])
    /// Adds a witness (a voting member without a log; at most one per configuration).
    case addWitness(id: NodeID, address: String, incarnation: UInt64 = 0, fingerprint: [UInt8] = [])
    /// Makes a caught-up learner a full voter.
    case promote(id: NodeID)
    /// Makes a full voter a learner.
    case demote(id: NodeID)
    /// Removes a member of any role. Removing the leader itself is allowed: it keeps leading
    /// until the change commits, then steps down (dissertation §4.2.2).
    case remove(id: NodeID)
    /// Pins the incarnation of a member whose incarnation is not pinned yet (a seed member, or
    /// one added without it): from then on only that data directory counts as the member. It
    /// changes no role, so no quorum.
    case pin(id: NodeID, incarnation: UInt64)

    /// The member the change is about.
    public var id: NodeID {
        switch self {
        case let .addLearner(id, _, _, _), let .addWitness(id, _, _, _): id
        case let .promote(id), let .demote(id), let .remove(id), let .pin(id, _): id
        }
    }
}

/// Why the leader refused a configuration change. `description` is a constant text.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// This node is not the leader; `leader` is the one it knows of, or 0.
    case notLeader(leader: NodeID)
    /// The leader has not committed an entry of its own term yet: until it has, an entry of
    /// a previous leader's configuration may still be lost (Ongaro, raft-dev 2015).
    case notCommittedInTerm
    /// The previous configuration change is not committed yet: one change at a time.
    case changeInProgress
    /// A leadership transfer is under way.
    case transferring
    /// The id is 0, the address is not printable ASCII of at most 255 bytes, or the
    /// fingerprint is neither empty nor `Configuration.fingerprintBytes` long.
    case invalidMember
    /// The id is already a member.
    case alreadyMember
    /// The id is not a member.
    case unknownMember
    /// Promotion is of learners only.
    case notLearner
    /// Demotion is of full voters only.
    case notVoter
    /// The learner's log is more than `RaftConfig.learnerPromotionLagMax` entries behind the
    /// leader's, or the leader has not heard from it within an election timeout.
    case learnerNotCaughtUp
    /// The change would leave no full voter.
    case removingLastVoter
    /// The configuration already has a witness.
    case witnessAlreadyPresent
    /// The configuration already has `Configuration.membersMax` members.
    case tooManyMembers
    /// The voting members the leader hears from would not be a quorum of the new
    /// configuration: the change could not commit, and the cluster would stop.
    case wouldLoseQuorum
    /// The member's incarnation is pinned already, or the one given is 0.
    case alreadyPinned

    /// A constant, loggable explanation.
    public var description: String {
        switch self {
        case .notLeader: "not the leader"
        case .notCommittedInTerm: "the leader has not committed an entry of its term yet"
        case .changeInProgress: "a configuration change is in progress"
        case .transferring: "a leadership transfer is in progress"
        case .invalidMember: "the id must be positive and the address printable ASCII of at most 255 bytes"
        case .alreadyMember: "already a member"
        case .unknownMember: "not a member"
        case .notLearner: "only a learner can be promoted"
        case .notVoter: "only a full voter can be demoted"
        case .learnerNotCaughtUp: "the learner is not caught up with the leader's log"
        case .removingLastVoter: "the change would leave no full voter"
        case .witnessAlreadyPresent: "the configuration already has a witness"
        case .tooManyMembers: "the configuration has the most members it may hold"
        case .wouldLoseQuorum: "the voting members this leader hears from would not be a quorum of the new configuration"
        case .alreadyPinned: "the member's identity is pinned already"
        }
    }
}

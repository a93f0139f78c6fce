/// A tracker's id in `cluster.conf` (its Raft node id; the protocol has its own name for it,
/// so a client needs no part of the server to name a tracker).
public typealias TrackerID = UInt64

/// A tracker's Raft role as `cluster_status` reports it. The raw values are the wire's.
public enum TrackerRole: UInt8, Equatable, Sendable, CustomStringConvertible {
    /// Follows a leader (or waits for one).
    case follower = 0
    /// Asks whether it could win an election before starting one (pre-vote).
    case preCandidate = 1
    /// Stands for election in a new term.
    case candidate = 2
    /// Leads its term.
    case leader = 3

    /// The role's name as the client prints it.
    public var description: String {
        switch self {
        case .follower: "follower"
        case .preCandidate: "pre-candidate"
        case .candidate: "candidate"
        case .leader: "leader"
        }
    }
}

/// One tracker's view, for `cluster_status`.
public struct TrackerStatus: Equatable, Sendable {
    /// The tracker that answered.
    public var id: TrackerID
    /// Its role now.
    public var role: TrackerRole
    /// Its current term.
    public var term: UInt64
    /// The leader it knows of in that term, or 0.
    public var leader: TrackerID
    /// The highest log index it knows to be committed.
    public var commitIndex: UInt64
    /// The highest log index its state machine applied.
    public var appliedIndex: UInt64
    /// The last index in its log.
    public var lastIndex: UInt64
    /// For a leader: each follower's match index; empty otherwise.
    public var followerMatch: [FollowerMatch]
    /// The configuration in force on this tracker (from its log or snapshot), ascending by id.
    public var members: [Member] = []

    /// What a member does, as `cluster_status` and `tracker-node member list` print it. The raw
    /// values are the wire's.
    public enum MemberRole: UInt8, Equatable, Sendable, CustomStringConvertible {
        /// Holds the log and the state, votes, may lead.
        case voter = 1
        /// Receives the log; counts for nothing until promoted.
        case learner = 2
        /// Votes and acknowledges, holds no log and no state, never leads.
        case witness = 3

        /// `voter`, `learner` or `witness`.
        public var description: String {
            switch self {
            case .voter: "voter"
            case .learner: "learner"
            case .witness: "witness"
            }
        }
    }

    /// One member of the configuration.
    public struct Member: Equatable, Sendable {
        /// The tracker.
        public var id: TrackerID
        /// Where it listens (empty when the configuration does not say).
        public var address: String
        /// What it does.
        public var role: MemberRole
        /// The SHA-256 fingerprint of its TLS certificate as the configuration pins it (empty
        /// when it does not: a seed member, pinned by its cluster.conf line, or no TLS).
        public var fingerprint: [UInt8]

        /// Makes a member entry.
        public init(id: TrackerID, address: String, role: MemberRole, fingerprint: [UInt8] = []) {
            self.id = id
            self.address = address
            self.role = role
            self.fingerprint = fingerprint
        }
    }

    /// How far a follower's log is known to agree with the leader's.
    public struct FollowerMatch: Equatable, Sendable {
        /// The follower.
        public var id: TrackerID
        /// The highest index known to match the leader's log.
        public var matchIndex: UInt64

        /// Makes a follower entry.
        public init(id: TrackerID, matchIndex: UInt64) {
            self.id = id
            self.matchIndex = matchIndex
        }
    }

    /// Makes a status.
    public init(id: TrackerID, role: TrackerRole, term: UInt64, leader: TrackerID, commitIndex: UInt64,
                appliedIndex: UInt64, lastIndex: UInt64, followerMatch: [FollowerMatch]) {
        self.id = id
        self.role = role
        self.term = term
        self.leader = leader
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.lastIndex = lastIndex
        self.followerMatch = followerMatch
    }
}

/// Why a configuration was refused.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the setting.
    public var reason: String
    public var description: String { reason }
}

/// A node's identity, seed configuration, timing (in ticks) and named limits, validated once
/// at start.
public struct RaftConfig: Sendable {
    /// This node.
    public var id: NodeID
    /// This node's data-directory identity, made once when the directory is created and sent
    /// with every message; members whose configuration entry pins another incarnation are
    /// not this node (see `Member.incarnation`). 0 when not used.
    public var incarnation: UInt64 = 0
    /// The configuration of a brand-new cluster (cluster.conf, the seed list). Once the log
    /// or a snapshot holds a configuration, that one is in force instead. A node waiting to
    /// be added starts from `.empty`.
    public var initialConfiguration: Configuration
    /// The voting members of the initial configuration.
    public var peers: [NodeID] { initialConfiguration.votingIDs }
    /// Ticks between a leader's heartbeats.
    public var heartbeatTicks: Int = 5
    /// The base election timeout in ticks; each election draws one in [base, 2 × base).
    public var electionTimeoutTicks: Int = 15
    /// Seed of the generator that randomizes election timeouts.
    public var randomSeed: UInt64 = 1
    /// Run a pre-vote before a real election, so a node that was cut off cannot depose a leader.
    public var isPreVoteEnabled = true
    /// Leaders step down when they have not heard from a quorum within an election timeout,
    /// and followers ignore votes while they hear from a leader.
    public var isCheckQuorumEnabled = true
    /// The most entries one append message carries.
    public var appendEntriesMax = 256
    /// The most entry bytes one append message carries (a single larger entry still goes alone).
    public var appendBytesMax = 1 << 20
    /// The most appends in flight to one follower before the leader waits for acknowledgements.
    public var inflightAppendsMax = 64
    /// The most bytes proposed but not yet committed before proposals are refused.
    public var uncommittedBytesMax = 64 << 20
    /// The most entries handed to the host to apply in one batch.
    public var applyEntriesMax = 4096
    /// The most reads waiting for confirmation at once.
    public var pendingReadsMax = 65536
    /// Ticks a leader waits for a follower to install a snapshot before sending it again.
    public var snapshotTimeoutTicks = 1_000
    /// On a leader: at most this many entries below a compaction point are kept for live
    /// followers that are catching up (by snapshot or appends), so that they find the entries
    /// after their position instead of needing another snapshot.
    public var catchUpEntriesMax: UInt64 = 5_000
    /// Bounds on what a received message may carry; messages beyond them are refused.
    public var messageLimits = MessageLimits.standard
    /// A learner is promoted only when its log is at most this many entries behind the
    /// leader's last index (so the new voter does not stall commits while it catches up).
    public var learnerPromotionLagMax = 64
    /// A leader counts the witness toward the commit quorum only while the full voters it
    /// heard from within this many ticks are not a quorum by themselves; nil means one
    /// election timeout (docs/witness.md).
    public var witnessEngageTicks: Int?
    /// A bug planted on purpose for the simulator's checkers (SimNet's
    /// `witness-votes-without-mark`): a witness grants votes without comparing the candidate's
    /// log to its mark. Nothing but the simulator sets it.
    public var isWitnessMarkIgnoredForVotes = false
    /// A bug planted on purpose for the simulator's checkers (SimNet's
    /// `config-before-term-commit`, the bug of Ongaro's 2015 correction): a new leader accepts
    /// a configuration change before an entry of its own term is committed. Nothing but the
    /// simulator sets it.
    public var isConfigurationChangeBeforeTermCommitAllowed = false

    /// Makes a configuration with the default timing and limits whose initial configuration
    /// has `peers` as full voters (unknown addresses, unpinned incarnations).
    public init(id: NodeID, peers: [NodeID]) {
        self.id = id
        initialConfiguration = Configuration(unchecked: peers.map { Member(id: $0, role: .voter) })
    }

    /// Makes a configuration with the default timing and limits.
    public init(id: NodeID, initialConfiguration: Configuration) {
        self.id = id
        self.initialConfiguration = initialConfiguration
    }

    /// The ticks after which an unheard full voter no longer counts as reachable for the
    /// witness rule.
    var effectiveWitnessEngageTicks: Int { witnessEngageTicks ?? electionTimeoutTicks }

    /// Throws unless every setting is usable.
    public func validate() throws {
        func fail(_ reason: String) -> ConfigError { ConfigError(reason: reason) }
        guard id != 0 else { throw fail("id must be positive") }
        if let violation = initialConfiguration.violation { throw fail("initial configuration: \(violation)") }
        // A node outside the seed list joins with the empty configuration instead.
        guard initialConfiguration.isEmpty || initialConfiguration.member(id) != nil else {
            throw fail("the initial configuration must include this node's id \(id), or be empty")
        }
        guard heartbeatTicks >= 1 else { throw fail("heartbeatTicks must be at least 1") }
        guard electionTimeoutTicks > heartbeatTicks else { throw fail("electionTimeoutTicks must exceed heartbeatTicks") }
        guard appendEntriesMax >= 1 else { throw fail("appendEntriesMax must be at least 1") }
        guard appendBytesMax >= 1 else { throw fail("appendBytesMax must be at least 1") }
        guard inflightAppendsMax >= 1 else { throw fail("inflightAppendsMax must be at least 1") }
        guard uncommittedBytesMax >= 1 else { throw fail("uncommittedBytesMax must be at least 1") }
        guard applyEntriesMax >= 1 else { throw fail("applyEntriesMax must be at least 1") }
        guard pendingReadsMax >= 1 else { throw fail("pendingReadsMax must be at least 1") }
        guard snapshotTimeoutTicks > electionTimeoutTicks else { throw fail("snapshotTimeoutTicks must exceed electionTimeoutTicks") }
        guard learnerPromotionLagMax >= 0, learnerPromotionLagMax <= 1 << 20 else { throw fail("learnerPromotionLagMax must be in 0...2^20") }
        if let ticks = witnessEngageTicks, ticks <= heartbeatTicks { throw fail("witnessEngageTicks must exceed heartbeatTicks") }
        if let violation = messageLimits.violation { throw fail(violation) }
        // A follower refuses appends beyond the message limits: this node's own must fit them.
        guard appendEntriesMax <= messageLimits.entriesPerMessageMax else { throw fail("appendEntriesMax must not exceed messageLimits.entriesPerMessageMax") }
        guard appendBytesMax <= messageLimits.entryDataBytesMax else { throw fail("appendBytesMax must not exceed messageLimits.entryDataBytesMax") }
    }
}

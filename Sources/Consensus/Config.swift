/// Why a configuration was refused.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the setting.
    public var reason: String
    public var description: String { reason }
}

/// A node's identity, cluster, timing (in ticks) and named limits, validated once at start.
public struct Config: Sendable {
    /// This node.
    public var id: NodeID
    /// Every voting member, this node included.
    public var peers: [NodeID]
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
    /// Bounds on what a received message may carry; messages beyond them are refused.
    public var messageLimits = MessageLimits.standard

    /// Makes a configuration with the default timing and limits.
    public init(id: NodeID, peers: [NodeID]) {
        self.id = id
        self.peers = peers
    }

    /// Throws unless every setting is usable.
    public func validate() throws {
        func fail(_ reason: String) -> ConfigError { ConfigError(reason: reason) }
        guard id != 0 else { throw fail("id must be positive") }
        guard peers.contains(id) else { throw fail("peers must include this node's id \(id)") }
        guard Set(peers).count == peers.count, !peers.contains(0) else { throw fail("peers must be distinct and positive") }
        guard peers.count <= 15 else { throw fail("at most 15 peers") }
        guard heartbeatTicks >= 1 else { throw fail("heartbeatTicks must be at least 1") }
        guard electionTimeoutTicks > heartbeatTicks else { throw fail("electionTimeoutTicks must exceed heartbeatTicks") }
        guard appendEntriesMax >= 1 else { throw fail("appendEntriesMax must be at least 1") }
        guard appendBytesMax >= 1 else { throw fail("appendBytesMax must be at least 1") }
        guard inflightAppendsMax >= 1 else { throw fail("inflightAppendsMax must be at least 1") }
        guard uncommittedBytesMax >= 1 else { throw fail("uncommittedBytesMax must be at least 1") }
        guard applyEntriesMax >= 1 else { throw fail("applyEntriesMax must be at least 1") }
        guard pendingReadsMax >= 1 else { throw fail("pendingReadsMax must be at least 1") }
        guard snapshotTimeoutTicks > electionTimeoutTicks else { throw fail("snapshotTimeoutTicks must exceed electionTimeoutTicks") }
        if let violation = messageLimits.violation { throw fail(violation) }
        // A follower refuses appends beyond the message limits: this node's own must fit them.
        guard appendEntriesMax <= messageLimits.entriesPerMessageMax else { throw fail("appendEntriesMax must not exceed messageLimits.entriesPerMessageMax") }
        guard appendBytesMax <= messageLimits.entryDataBytesMax else { throw fail("appendBytesMax must not exceed messageLimits.entryDataBytesMax") }
    }
}

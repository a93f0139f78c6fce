import Consensus
import TrackerProtocol
import TrackerStateMachine

/// Where a reply goes: the shell's connection number and the request's tag on it.
public struct ReplyTarget: Hashable, Sendable {
    public var connection: UInt64
    public var tag: UInt64

    /// Makes a reply target.
    public init(connection: UInt64, tag: UInt64) {
        self.connection = connection
        self.tag = tag
    }
}

/// A response to send to a client.
public struct Reply: Equatable, Sendable {
    public var target: ReplyTarget
    public var response: ClientResponse
}

/// Slow password work the shell does off the path that drives Raft, then hands back with
/// `TrackerHost.completePasswordJob`. The password lives only in the job, never in the log.
public struct PasswordJob: Sendable {
    public enum Work: Sendable {
        /// Make a random salt and the slow hash of the password (create_user).
        case hash(password: String)
        /// Check the password against a stored salt and hash (login).
        case verify(password: String, salt: [UInt8], passwordHash: [UInt8])
    }

    public var id: UInt64
    public var work: Work
}

/// The shell's answer to a `PasswordJob`.
public enum PasswordOutcome: Sendable {
    /// For `.hash`: the salt and hash to store.
    case hashed(salt: [UInt8], passwordHash: [UInt8])
    /// For `.verify`: whether the password matched.
    case verified(isMatch: Bool)
}

/// Settings of a tracker host.
public struct HostOptions: Sendable {
    /// Milliseconds between ticks (the shell calls `tick` this often).
    public var tickMillis: UInt64 = 10
    /// How often a leader looks for sessions whose lease ran out.
    public var expiryCheckMillis: UInt64 = 1_000
    /// Requests waiting for a commit or a read round, at most (password work has its own bound).
    public var pendingRequestsMax = 10_000
    /// `create_user` and `login` requests in progress (reading credentials, hashing, waiting for
    /// the session's commit), at most: a flood of them never takes admission from keepalives,
    /// commands and reads.
    public var passwordRequestsMax = 2_048
    /// Shortest session token a login may carry (the client chooses it: a retry of the same
    /// login carries the same token, so an answer lost after the commit can be repeated).
    public var loginTokenBytesMin = 16
    /// A bug planted on purpose for the simulator's checkers; tracker-node never sets one.
    public var plantedBug: HostPlantedBug?
    /// The state machine's limits; equal on every tracker.
    public var limits: Limits = .standard
    /// Each tracker's client address, for redirects.
    public var addresses: [NodeID: String] = [:]
    /// Applied entries after which a snapshot of the state machine is taken...
    public var snapshotThresholdEntries: UInt64 = 10_000
    /// ...once the log since the last snapshot is also at least this fraction of that
    /// snapshot's size, so a large state is not rewritten for a little log (disk stays within
    /// a few snapshot sizes either way).
    public var snapshotLogBytesRatio = 0.25
    /// Entries kept in the log before a snapshot, so slightly lagging followers get appends.
    public var retainedEntries: UInt64 = 1_000
    /// Whether a leader pins unpinned members' incarnations and promotes caught-up learners
    /// on its own (`maybeMaintainMembership`).
    public var isMembershipMaintained = true

    /// Default settings.
    public init() {}
}

/// Bugs the simulator plants on purpose, to prove its checkers catch them.
public enum HostPlantedBug: String, Sendable, CaseIterable {
    /// Every tracker, leader or not, answers reads from its applied state at once.
    case staleRead = "stale-read"
    /// A received snapshot's state is installed even when Raft dropped that snapshot as stale.
    case installAnySnapshot = "install-any-snapshot"
    /// A vote (or any change of term) is sent before it is durable.
    case persistAfterSendVote = "persist-after-send-vote"
}

/// One batch of work. `HostExecutor` is the one place that knows how to carry it out (which
/// messages may leave before the batch is durable, when replies go, when to advance).
public struct HostBatch: Sendable {
    public var raft: Ready
    public var replies: [Reply]
    public var passwordJobs: [PasswordJob]
    /// When set: serialize `machine.snapshot()` off the Raft path, make it durable as a
    /// snapshot ending at `meta`, then call `snapshotTaken`.
    public var snapshotJob: SnapshotJob?
}

/// A copy of the state machine to snapshot (a value: copying it is cheap, and the event loop
/// goes on while the shell serializes it).
public struct SnapshotJob: Sendable {
    public var meta: SnapshotMeta
    public var machine: TrackerStateMachine
}

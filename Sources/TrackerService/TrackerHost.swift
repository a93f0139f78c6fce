import Consensus
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
        /// Check the password against a stored salt and hash; on a match also make a random
        /// session token (login).
        case verify(password: String, salt: [UInt8], passwordHash: [UInt8])
    }

    public var id: UInt64
    public var work: Work
}

/// The shell's answer to a `PasswordJob`.
public enum PasswordOutcome: Sendable {
    /// For `.hash`: the salt and hash to store.
    case hashed(salt: [UInt8], passwordHash: [UInt8])
    /// For `.verify`: whether the password matched and, if so, a new random token.
    case verified(isMatch: Bool, newToken: [UInt8])
}

/// Settings of a tracker host.
public struct HostOptions: Sendable {
    /// Milliseconds between ticks (the shell calls `tick` this often).
    public var tickMillis: UInt64 = 10
    /// How often a leader looks for sessions whose lease ran out.
    public var expiryCheckMillis: UInt64 = 1_000
    /// Requests waiting for a commit, a read round or password work, at most.
    public var pendingRequestsMax = 10_000
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

    /// Default settings.
    public init() {}
}

/// One batch of work for the shell, in order: persist `raft.hardState` and `raft.entries`
/// (fsync when `raft.mustSync`), send `raft.messages`, send `replies`, start `passwordJobs`;
/// then call `advance()`, which applies what committed and returns more replies.
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

/// The whole tracker without I/O: a Raft node, the tracker state machine, and the bookkeeping
/// between client requests and log entries. tracker-node drives it with sockets, disk and a
/// clock; SimNet drives the same code with simulated ones.
public struct TrackerHost: Sendable {
    /// The Raft core.
    public internal(set) var raft: RaftNode
    /// The applied state.
    public internal(set) var machine: TrackerStateMachine
    public let options: HostOptions
    let hashToken: @Sendable ([UInt8]) -> TokenHash

    var nowMillis: UInt64 = 0
    var leaderSinceMillis: UInt64?
    var lastExpiryCheckMillis: UInt64 = 0
    var pendingWrites: [UInt64: PendingWrite] = [:]
    var pendingReads: [UInt64: PendingRead] = [:]
    var confirmedReads: [(index: UInt64, read: PendingRead)] = []
    var pendingJobs: [UInt64: PendingJob] = [:]
    /// Password jobs by the (client id, sequence) of their request: a retry that arrives while
    /// its job runs takes the job over instead of hashing again.
    var jobOfRequest: [RequestKey: UInt64] = [:]

    struct RequestKey: Hashable, Sendable {
        var clientID: UInt64
        var sequence: UInt64
    }
    var nextID: UInt64 = 1
    var replies: [Reply] = []
    var jobsOut: [PasswordJob] = []
    /// The batch the shell is carrying out, and whether it came from the Raft core.
    var batchInFlight: (ready: Ready, isFromRaft: Bool)?
    /// The newest durable snapshot: its bytes go to followers that need them.
    public internal(set) var latestSnapshot: Snapshot?
    var isSnapshotInProgress = false
    /// Bytes of entries applied since the newest snapshot.
    var appliedBytesSinceSnapshot = 0
    var snapshotJobOut: SnapshotJob?
    /// The state restored from a snapshot the leader sent, until its Ready is carried out.
    var receivedMachine: TrackerStateMachine?

    enum WriteKind: Sendable {
        case plain
        case login(token: [UInt8])
        case leaderOwn
    }

    struct PendingWrite: Sendable {
        var term: UInt64
        var target: ReplyTarget?
        var kind: WriteKind
    }

    enum PendingRead: Sendable {
        case query(TrackerQuery, ReplyTarget)
        case login(ClientRequest, ReplyTarget)
    }

    enum PendingJob: Sendable {
        case createUser(ClientRequest, ReplyTarget)
        case login(ClientRequest, ReplyTarget)
    }

    /// Starts a host from stored Raft state; `hashToken` turns a session token into the hash
    /// the log keeps (SHA-256 in tracker-node).
    public init(raftConfig: Config, persisted: PersistedState, options: HostOptions,
                hashToken: @escaping @Sendable ([UInt8]) -> TokenHash) throws {
        raft = try RaftNode(config: raftConfig, persisted: persisted, applied: persisted.snapshot?.meta.index ?? 0)
        if let snapshot = persisted.snapshot {
            // This tracker wrote it, and storage verified its checksum: skip the invariant walk.
            machine = try TrackerStateMachine.restore(snapshot.data, limits: options.limits, checksInvariants: false)
            latestSnapshot = snapshot
        } else {
            machine = TrackerStateMachine(limits: options.limits)
        }
        self.options = options
        self.hashToken = hashToken
    }

    var pendingCount: Int { pendingWrites.count + pendingReads.count + confirmedReads.count + pendingJobs.count }

    // MARK: - Inputs

    /// Advances time: one Raft tick, and on a leader the periodic expiry of sessions.
    public mutating func tick(nowMillis now: UInt64) {
        nowMillis = max(nowMillis, now)
        raft.tick()
        guard raft.role == .leader else {
            leaderSinceMillis = nil
            return
        }
        let since = leaderSinceMillis ?? nowMillis
        leaderSinceMillis = since
        // A new leader waits one lease before expiring anything, so every live client has had
        // time to renew its lease against this leader's clock.
        guard nowMillis - since >= options.limits.sessionLeaseMillis,
              nowMillis - lastExpiryCheckMillis >= options.expiryCheckMillis else { return }
        lastExpiryCheckMillis = nowMillis
        guard machine.state.hasSessionExpiring(atOrBefore: nowMillis) else { return }
        let envelope = CommandEnvelope(clientID: 0, sequence: 0, command: .expireSessions(nowMillis: nowMillis))
        propose(envelope, kind: .leaderOwn, target: nil)
    }

    /// Hands a Raft message from another tracker to the core. A snapshot whose bytes do not
    /// restore is dropped here (the leader sends it again), so the core never installs it.
    /// A shell may restore the snapshot's state itself, off the event loop, and pass it in.
    public mutating func receive(_ message: Message, restoredMachine: TrackerStateMachine? = nil) {
        var restored: TrackerStateMachine?
        if message.kind == .installSnapshot, let snapshot = message.snapshot, snapshot.meta.index > raft.commitIndex {
            guard let machine = restoredMachine ?? (try? TrackerStateMachine.restore(snapshot.data, limits: options.limits)) else { return }
            restored = machine
        }
        raft.step(message)
        // Only the snapshot the core took replaces the state (not one it refused or found stale).
        if let restored, let meta = message.snapshot?.meta, raft.pendingSnapshotMeta == meta { receivedMachine = restored }
    }

    /// The shell made the job's snapshot durable. Returns the index through which the shell
    /// may delete stored log entries.
    public mutating func snapshotTaken(_ snapshot: Snapshot) -> UInt64 {
        isSnapshotInProgress = false
        if snapshot.meta.index > (latestSnapshot?.meta.index ?? 0) {
            latestSnapshot = snapshot
            appliedBytesSinceSnapshot = 0
        }
        raft.compact(through: snapshot.meta, retainedEntries: options.retainedEntries)
        return snapshot.meta.index > options.retainedEntries ? snapshot.meta.index - options.retainedEntries : 0
    }

    /// The shell could not make the job's snapshot durable; a later batch asks again.
    public mutating func snapshotFailed() {
        isSnapshotInProgress = false
    }

    /// Takes a client's request. The answer comes back as a `Reply` from `ready()` or `advance()`.
    public mutating func submit(_ request: ClientRequest, replyTo target: ReplyTarget) {
        if case .clusterStatus = request.operation {
            reply(target, .status(status))
            return
        }
        guard raft.role == .leader else {
            reply(target, notLeaderResponse)
            return
        }
        guard pendingCount < options.pendingRequestsMax else {
            reply(target, .retryLater(reason: "too many requests in progress"))
            return
        }
        switch request.operation {
        case let .createUser(_, password):
            guard !password.isEmpty, password.utf8.count <= 256 else {
                reply(target, .rejected(reason: "password must be 1 to 256 bytes"))
                return
            }
            startJob(.hash(password: password), pending: .createUser(request, target))
        case let .login(userID, _, _):
            startRead(.credentials(userID: userID), pending: .login(request, target))
        case let .command(command):
            guard let hash = sessionHash(request, target) else { return }
            guard let bound = command.bound(to: hash, nowMillis: nowMillis) else { return reject(target) }
            propose(CommandEnvelope(clientID: request.clientID, sequence: request.sequence, command: bound), kind: .plain, target: target)
        case let .query(query):
            guard let hash = sessionHash(request, target) else { return }
            guard let bound = query.bound(to: hash) else { return reject(target) }
            startRead(bound, pending: .query(bound, target))
        case .clusterStatus:
            break
        }
    }

    /// Hands back the outcome of a `PasswordJob`.
    public mutating func completePasswordJob(id: UInt64, outcome: PasswordOutcome) {
        guard let job = pendingJobs.removeValue(forKey: id) else { return }
        switch job {
        case let .createUser(request, _), let .login(request, _):
            jobOfRequest[RequestKey(clientID: request.clientID, sequence: request.sequence)] = nil
        }
        switch (job, outcome) {
        case let (.createUser(request, target), .hashed(salt, passwordHash)):
            guard case let .createUser(userID, _) = request.operation else { return }
            let command = TrackerCommand.createUser(userID: userID, salt: salt, passwordHash: passwordHash)
            propose(CommandEnvelope(clientID: request.clientID, sequence: request.sequence, command: command), kind: .plain, target: target)
        case let (.login(request, target), .verified(isMatch, newToken)):
            guard case let .login(userID, _, peerAddress) = request.operation else { return }
            guard isMatch else {
                reply(target, .rejected(reason: "wrong user id or password"))
                return
            }
            let command = TrackerCommand.openSession(userID: userID, tokenHash: hashToken(newToken),
                                                     peerAddress: peerAddress, nowMillis: nowMillis)
            propose(CommandEnvelope(clientID: request.clientID, sequence: request.sequence, command: command),
                    kind: .login(token: newToken), target: target)
        case let (.createUser(_, target), _), let (.login(_, target), _):
            reply(target, .retryLater(reason: "internal password error"))
        }
    }

    /// Asks the leader to hand leadership to its most caught-up follower (clean shutdown).
    /// Returns false when this tracker is not the leader or has no follower.
    public mutating func transferLeadership() -> Bool {
        guard raft.role == .leader else { return false }
        guard let best = raft.matchIndexes.filter({ $0.id != raft.config.id }).max(by: { $0.match < $1.match }) else { return false }
        do { try raft.transferLeadership(to: best.id) } catch { return false }
        return true
    }

    /// This tracker's view of the cluster.
    public var status: TrackerStatus {
        let followers = raft.role == .leader
            ? raft.matchIndexes.filter { $0.id != raft.config.id }.map { TrackerStatus.FollowerMatch(id: $0.id, matchIndex: $0.match) }
            : []
        return TrackerStatus(id: raft.config.id, role: raft.role, term: raft.term, leader: raft.leader,
                             commitIndex: raft.commitIndex, appliedIndex: raft.appliedIndex,
                             lastIndex: raft.lastIndex, followerMatch: followers)
    }
}

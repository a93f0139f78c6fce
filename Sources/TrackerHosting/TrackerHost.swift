import Consensus
import TrackerProtocol
import TrackerStateMachine

/// The whole tracker without I/O: a Raft node, the tracker state machine, and the bookkeeping
/// between client requests and log entries. tracker-node drives it with sockets, disk and a
/// clock; SimNet drives the same code with simulated ones.
public struct TrackerHost: Sendable {
    /// Heartbeats a follower may miss before it answers clients "no leader" instead of
    /// redirecting them to a leader that may have gone silent.
    public static let silentLeaderHeartbeats = 2
    /// The Raft core.
    public internal(set) var raft: RaftNode
    /// The applied state.
    public internal(set) var machine: TrackerStateMachine
    public let options: HostOptions
    let hashToken: @Sendable ([UInt8]) -> TokenHash

    var nowMillis: UInt64 = 0
    var leaderSinceMillis: UInt64?
    /// On the leader: each session's lease as renewed by keepalives, on this leader's clock.
    /// Only the expiry of a lease is replicated; renewals cost no Raft write.
    var leases: [TokenHash: UInt64] = [:]
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
    /// The state restored from the snapshot Raft accepted, until its Ready is carried out.
    var receivedMachine: (meta: SnapshotMeta, machine: TrackerStateMachine)?
    /// Logins waiting for their credentials read (in `pendingReads` or `confirmedReads`).
    var loginReadCount = 0
    /// What happened, for the simulator's coverage report and the shell's logs.
    public internal(set) var counters = HostCounters()

    enum WriteKind: Sendable {
        case plain
        case login(token: [UInt8])
        case leaderOwn
        /// An operator's configuration change: answered with the status once it commits.
        case configuration
    }

    struct PendingWrite: Sendable {
        var term: UInt64
        var target: ReplyTarget?
        var kind: WriteKind
    }

    enum PendingRead: Sendable {
        case query(TrackerQuery, ReplyTarget)
        case login(ClientRequest, ReplyTarget)
        /// A keepalive: once leadership is confirmed, the lease is renewed in memory.
        case keepAlive(TokenHash, ReplyTarget)
    }

    enum PendingJob: Sendable {
        case createUser(ClientRequest, ReplyTarget)
        case login(ClientRequest, ReplyTarget)
    }

    /// Events worth counting: the rare paths the simulator must show it exercised.
    public struct HostCounters: Equatable, Sendable {
        /// InstallSnapshot messages whose state did not restore (dropped before the core).
        public var snapshotsUnrestorable = 0
        /// InstallSnapshot messages ahead of the commit index that Raft did not accept (from a
        /// stale leader, or refused).
        public var snapshotsDroppedByRaft = 0
        /// InstallSnapshot messages at or behind the commit index (they change nothing).
        public var snapshotsBehindCommit = 0
        /// Snapshots from the leader installed while a local snapshot job was running.
        public var snapshotsInstalledDuringJob = 0
        /// Local snapshot jobs that finished after a newer snapshot was installed (ignored).
        public var staleSnapshotJobs = 0
        /// Retried logins answered from the session their first attempt opened.
        public var loginsAnsweredFromSession = 0
        /// Session-bound requests refused before reaching the log (unknown token).
        public var refusedUnknownSession = 0
        /// Session-bound requests refused because their TLS connection presented another
        /// certificate than the session logged in with (a token used from another key).
        public var refusedCertificateMismatch = 0
        /// Password requests refused because their own admission was full.
        public var refusedPasswordAdmission = 0
        /// Configuration changes a leader proposed on its own (pins and promotions).
        public var membershipChangesProposed = 0
        /// Data-plane queries answered from the applied state while no leader was known.
        public var staleReadsAnswered = 0
    }

    /// Starts a host from stored Raft state; `hashToken` turns a session token into the hash
    /// the log keeps (SHA-256 in tracker-node).
    public init(raftConfig: RaftConfig, persisted: PersistedState, options: HostOptions,
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

    /// Requests counted against `pendingRequestsMax`: writes and reads, but not password work.
    public var pendingCount: Int { pendingWrites.count + pendingReads.count + confirmedReads.count - loginReadCount }
    /// Requests counted against `passwordRequestsMax`: logins reading credentials, and jobs.
    public var passwordRequestCount: Int { loginReadCount + pendingJobs.count }

    // MARK: - Inputs

    /// Advances time: one Raft tick, and on a leader the periodic expiry of sessions.
    public mutating func tick(nowMillis now: UInt64) {
        nowMillis = max(nowMillis, now)
        raft.tick()
        guard raft.role == .leader else {
            leaderSinceMillis = nil
            leases.removeAll()
            return
        }
        let since = leaderSinceMillis ?? nowMillis
        leaderSinceMillis = since
        maybeExpireSessions(leaderSinceMillis: since)
        maybeMaintainMembership()
    }

    /// Proposes the expiry of sessions whose lease ran out, about once a second. A new leader
    /// gives every session a full lease from its first tick (its predecessor's renewals were
    /// in the predecessor's memory), so every live client has renewed against it first.
    mutating func maybeExpireSessions(leaderSinceMillis since: UInt64) {
        let floor = since + options.limits.sessionLeaseMillis
        guard nowMillis >= floor, nowMillis >= lastExpiryCheckMillis + options.expiryCheckMillis,
              !pendingWrites.values.contains(where: { if case .leaderOwn = $0.kind { true } else { false } }) else { return }
        lastExpiryCheckMillis = nowMillis
        let expired = machine.state.expiredSessions(nowMillis: nowMillis, floorMillis: floor,
                                                    limit: options.limits.expiredSessionsPerCommandMax) { leases[$0] }
        for tokenHash in expired { leases[tokenHash] = nil }
        guard !expired.isEmpty else { return }
        let envelope = CommandEnvelope(clientID: 0, sequence: 0, command: .expireSessions(tokenHashes: expired, nowMillis: nowMillis))
        propose(envelope, kind: .leaderOwn, target: nil)
    }

    /// Hands a Raft message from another tracker to the core. A snapshot whose bytes do not
    /// restore is dropped here (the leader sends it again), so the core never installs it.
    /// A shell may restore the snapshot's state itself, off the event loop, and pass it in.
    /// The restored state is kept only when Raft accepted exactly this snapshot: a stale one
    /// (an old leader's, or one behind the commit index) never replaces the state.
    public mutating func receive(_ message: Message, restoredMachine: TrackerStateMachine? = nil) {
        guard message.kind == .installSnapshot, let snapshot = message.snapshot else {
            raft.step(message)
            return
        }
        guard snapshot.meta.index > raft.commitIndex else {
            raft.step(message) // only moves the commit index, or answers a stale leader
            counters.snapshotsBehindCommit += 1
            return
        }
        guard let restored = restoredMachine ?? (try? TrackerStateMachine.restore(snapshot.data, limits: options.limits)) else {
            counters.snapshotsUnrestorable += 1
            return
        }
        if options.plantedBug == .installAnySnapshot { receivedMachine = (snapshot.meta, restored) }
        raft.step(message)
        guard raft.pendingSnapshotMeta == snapshot.meta else {
            counters.snapshotsDroppedByRaft += 1
            return
        }
        receivedMachine = (snapshot.meta, restored)
        if isSnapshotInProgress { counters.snapshotsInstalledDuringJob += 1 }
    }

    /// The shell made the job's snapshot durable. Returns the index through which the shell
    /// may delete stored log entries, or nil when a newer snapshot was installed while the job
    /// ran (the job's snapshot is then stale: nothing changes).
    public mutating func snapshotTaken(_ snapshot: Snapshot) -> UInt64? {
        isSnapshotInProgress = false
        let meta = snapshot.meta
        guard meta.index > (raft.snapshotMeta?.index ?? 0), meta.index <= raft.appliedIndex, raft.term(at: meta.index) == meta.term else {
            counters.staleSnapshotJobs += 1
            return nil
        }
        if meta.index > (latestSnapshot?.meta.index ?? 0) {
            latestSnapshot = snapshot
            appliedBytesSinceSnapshot = 0
        }
        raft.compact(through: meta, retainedEntries: options.retainedEntries)
        return raft.compactedIndex
    }

    /// The shell could not make the job's snapshot durable; a later batch asks again.
    public mutating func snapshotFailed() {
        isSnapshotInProgress = false
    }

    /// Takes a client's request. The answer comes back as a `Reply` from `ready()` or `advance()`.
    /// `certificate` is the fingerprint the request's TLS connection presented (empty: none),
    /// nil without TLS; a session's token is honored only from the certificate it logged in with.
    public mutating func submit(_ request: ClientRequest, replyTo target: ReplyTarget, certificate: [UInt8]? = nil) {
        if case .clusterStatus = request.operation {
            reply(target, .status(status))
            return
        }
        // PLANTED BUG (SimNet's `--planted-bug stale-read` only): any tracker answers queries.
        if options.plantedBug == .staleRead, case let .query(query) = request.operation {
            guard let hash = sessionHash(request, target, certificate: certificate) else { return }
            return reply(target, .result(machine.query(TrackerQuery.bind(query, to: hash))))
        }
        if answersStale(request) { return answerStale(request, replyTo: target, certificate: certificate) }
        guard raft.role == .leader else {
            reply(target, notLeaderResponse)
            return
        }
        switch request.operation {
        case .createUser, .login:
            submitPasswordRequest(request, replyTo: target)
        case .command(.keepAlive):
            // Renewed in the leader's memory once its leadership is confirmed: no Raft write.
            guard admitsRequest(target), let hash = sessionHash(request, target, certificate: certificate) else { return }
            startRead(.session(tokenHash: hash), pending: .keepAlive(hash, target))
        case let .command(command):
            guard admitsRequest(target), let hash = sessionHash(request, target, certificate: certificate) else { return }
            let bound = TrackerCommand.bind(command, to: hash, nowMillis: nowMillis)
            propose(CommandEnvelope(clientID: request.clientID, sequence: request.sequence, command: bound), kind: .plain, target: target)
        case let .query(query):
            guard admitsRequest(target), let hash = sessionHash(request, target, certificate: certificate) else { return }
            let bound = TrackerQuery.bind(query, to: hash)
            startRead(bound, pending: .query(bound, target))
        case .clusterStatus:
            break
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
        var status = TrackerStatus(id: raft.config.id, role: TrackerRole(raft.role), term: raft.term, leader: raft.leader,
                                   commitIndex: raft.commitIndex, appliedIndex: raft.appliedIndex,
                                   lastIndex: raft.lastIndex, followerMatch: followers)
        status.members = memberStatuses
        return status
    }
}

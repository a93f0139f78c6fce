import Consensus
@testable import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

/// Test-only password "hashing": NOT cryptography. It stands in for PBKDF2 so tests run fast;
/// tracker-node uses libcrypto.
func fakeHash(_ password: String, salt: [UInt8]) -> [UInt8] {
    var out = salt + Array(password.utf8)
    while out.count < 32 { out.append(0x5A) }
    return out
}

/// Test-only token hash: pads the token so it meets the state machine's minimum length.
let fakeTokenHash: @Sendable ([UInt8]) -> TokenHash = { token in TokenHash(token + [UInt8](repeating: 0xA5, count: 16)) }

/// The effects of one test tracker: a `MemoryStorage`, and outboxes the cluster empties.
struct MemoryEffects: HostEffects {
    let storage: MemoryStorage
    var messages: [Message] = []
    var replies: [Reply] = []
    var passwordJobs: [PasswordJob] = []
    var snapshotJobs: [SnapshotJob] = []

    mutating func persistSnapshot(_ snapshot: Snapshot) throws { try storage.saveSnapshot(snapshot) }
    mutating func persist(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        try storage.save(hardState: hardState, entries: entries, mustSync: mustSync)
    }
    mutating func send(_ messages: [Message]) { self.messages.append(contentsOf: messages) }
    mutating func reply(_ replies: [Reply]) { self.replies.append(contentsOf: replies) }
    mutating func startPasswordJobs(_ jobs: [PasswordJob]) { passwordJobs.append(contentsOf: jobs) }
    mutating func startSnapshotJob(_ job: SnapshotJob) { snapshotJobs.append(job) }
    mutating func compactLog(through index: UInt64) throws { try storage.compact(through: index) }
}

/// Three trackers, each the production `HostExecutor` over a `MemoryStorage`, wired together
/// synchronously; password and snapshot jobs are done at once and handed back as inputs.
/// Replies are collected per connection.
struct HostCluster {
    var executors: [NodeID: HostExecutor] = [:]
    var effects: [NodeID: MemoryEffects] = [:]
    var messages: [Message] = []
    var replies: [ReplyTarget: ClientResponse] = [:]
    var isolated: Set<NodeID> = []
    var now: UInt64 = 1_000
    var snapshotsTaken = 0
    var passwordJobCount = 0

    /// `incarnations` gives tracker `id` the data-directory identity `100 + id`.
    init(size: Int = 3, snapshotThreshold: UInt64 = 10_000, retained: UInt64 = 1_000, incarnations: Bool = false) {
        let ids = (1...UInt64(size)).map { $0 }
        var options = HostOptions()
        options.snapshotThresholdEntries = snapshotThreshold
        options.retainedEntries = retained
        for id in ids { options.addresses[id] = "127.0.0.1:\(7000 + id)" }
        for id in ids {
            var config = RaftConfig(id: id, peers: ids)
            config.randomSeed = id
            if incarnations { config.incarnation = 100 + id }
            let host = try! TrackerHost(raftConfig: config, persisted: PersistedState(), options: options, hashToken: fakeTokenHash)
            executors[id] = HostExecutor(host: host)
            effects[id] = MemoryEffects(storage: MemoryStorage())
        }
    }

    var ids: [NodeID] { executors.keys.sorted() }
    /// Each tracker's host, read-only.
    var hosts: [NodeID: TrackerHost] { executors.mapValues(\.host) }
    var storages: [NodeID: MemoryStorage] { effects.mapValues(\.storage) }
    var leader: NodeID? { ids.first { executors[$0]!.host.raft.role == .leader } }

    /// Hands `input` to tracker `id`.
    mutating func give(_ input: HostInput, to id: NodeID) {
        try! executors[id]!.handle(input, effects: &effects[id]!)
    }

    mutating func settle() {
        var rounds = 0
        var moved = true
        while moved {
            rounds += 1
            precondition(rounds < 10_000, "cluster did not settle")
            moved = false
            for id in ids where executors[id]!.host.hasReady {
                moved = true
                try! executors[id]!.drain(effects: &effects[id]!)
                takeOutboxes(of: id)
            }
            let inFlight = messages
            messages.removeAll()
            for m in inFlight where executors[m.to] != nil { // a member added but not started gets nothing
                moved = true
                give(.raft(m, restored: nil), to: m.to)
            }
        }
    }

    /// Moves what tracker `id` sent into the network and does its jobs at once.
    mutating func takeOutboxes(of id: NodeID) {
        let out = effects[id]!
        effects[id]!.messages.removeAll()
        effects[id]!.replies.removeAll()
        effects[id]!.passwordJobs.removeAll()
        effects[id]!.snapshotJobs.removeAll()
        messages.append(contentsOf: out.messages.filter { !isolated.contains($0.from) && !isolated.contains($0.to) })
        collect(out.replies)
        for job in out.passwordJobs { doJob(job, on: id) }
        for job in out.snapshotJobs {
            let snapshot = Snapshot(meta: job.meta, data: job.machine.snapshot())
            try! effects[id]!.storage.saveSnapshot(snapshot)
            give(.snapshotWritten(snapshot), to: id)
            snapshotsTaken += 1
        }
    }

    mutating func collect(_ out: [Reply]) {
        for r in out { replies[r.target] = r.response }
    }

    mutating func doJob(_ job: PasswordJob, on id: NodeID) {
        passwordJobCount += 1
        switch job.work {
        case let .hash(password):
            give(.passwordDone(id: job.id, outcome: .hashed(salt: [1, 2, 3, 4, 5, 6, 7, 8], passwordHash: fakeHash(password, salt: [1, 2, 3, 4, 5, 6, 7, 8]))), to: id)
        case let .verify(password, salt, hash):
            give(.passwordDone(id: job.id, outcome: .verified(isMatch: fakeHash(password, salt: salt) == hash)), to: id)
        }
    }

    /// Ticks every host `count` times, 10 ms apart, settling after each.
    mutating func tick(_ count: Int) {
        for _ in 0..<count {
            now += 10
            for id in ids { give(.tick(nowMillis: now), to: id) }
            settle()
        }
    }

    mutating func electLeader() -> NodeID {
        tick(60)
        return leader!
    }

    /// Restarts host `id` from its storage (a crash: volatile state lost).
    mutating func restart(_ id: NodeID) throws {
        let old = executors[id]!.host
        let host = try TrackerHost(raftConfig: old.raft.config, persisted: try effects[id]!.storage.load(), options: old.options, hashToken: fakeTokenHash)
        executors[id] = HostExecutor(host: host)
        messages.removeAll { $0.to == id || $0.from == id }
    }

    /// Hands a request to tracker `id` without settling.
    mutating func submit(_ request: ClientRequest, to id: NodeID, replyTo target: ReplyTarget, certificate: [UInt8]? = nil) {
        give(.request(request, target, certificate: certificate), to: id)
    }

    /// Sends a request to tracker `id` and returns its answer once the cluster settles. A login
    /// without a token gets one (the client chooses its session's token).
    /// `certificate`: what the request's TLS connection presented (nil: plaintext).
    mutating func send(_ request: ClientRequest, to id: NodeID, connection: UInt64 = 1, certificate: [UInt8]? = nil) -> ClientResponse? {
        var request = request
        if case .login = request.operation, request.token.isEmpty {
            request.token = (0..<16).map { UInt8(truncatingIfNeeded: Int(request.clientID) &* 31 &+ Int(request.sequence) &* 7 &+ $0) }
        }
        let target = ReplyTarget(connection: connection, tag: request.sequence)
        replies[target] = nil
        submit(request, to: id, replyTo: target, certificate: certificate)
        settle()
        return replies[target]
    }
}

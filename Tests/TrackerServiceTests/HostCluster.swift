import Consensus
import TrackerStateMachine
@testable import TrackerService

/// Test-only password "hashing": NOT cryptography. It stands in for PBKDF2 so tests run fast;
/// tracker-node uses libcrypto.
func fakeHash(_ password: String, salt: [UInt8]) -> [UInt8] {
    var out = salt + Array(password.utf8)
    while out.count < 32 { out.append(0x5A) }
    return out
}

/// Test-only token hash: pads the token so it meets the state machine's minimum length.
let fakeTokenHash: @Sendable ([UInt8]) -> TokenHash = { token in TokenHash(token + [UInt8](repeating: 0xA5, count: 16)) }

/// Three tracker hosts wired together synchronously, carrying out batches in order, with
/// password jobs done at once. Replies are collected per connection.
struct HostCluster {
    var hosts: [NodeID: TrackerHost] = [:]
    var storages: [NodeID: MemoryStorage] = [:]
    var messages: [Message] = []
    var replies: [ReplyTarget: ClientResponse] = [:]
    var isolated: Set<NodeID> = []
    var now: UInt64 = 1_000
    var tokenCounter: UInt8 = 0
    var snapshotsTaken = 0
    var passwordJobCount = 0

    init(size: Int = 3, snapshotThreshold: UInt64 = 10_000, retained: UInt64 = 1_000) {
        let ids = (1...UInt64(size)).map { $0 }
        var options = HostOptions()
        options.snapshotThresholdEntries = snapshotThreshold
        options.retainedEntries = retained
        for id in ids { options.addresses[id] = "127.0.0.1:\(7000 + id)" }
        for id in ids {
            var config = Config(id: id, peers: ids)
            config.randomSeed = id
            hosts[id] = try! TrackerHost(raftConfig: config, persisted: PersistedState(), options: options, hashToken: fakeTokenHash)
            storages[id] = MemoryStorage()
        }
    }

    var ids: [NodeID] { hosts.keys.sorted() }
    var leader: NodeID? { ids.first { hosts[$0]!.raft.role == .leader } }

    mutating func settle() {
        var rounds = 0
        var moved = true
        while moved {
            rounds += 1
            precondition(rounds < 10_000, "cluster did not settle")
            moved = false
            for id in ids where hosts[id]!.hasReady {
                moved = true
                let batch = hosts[id]!.ready()
                if let snapshot = batch.raft.snapshot { try! storages[id]!.saveSnapshot(snapshot) }
                try! storages[id]!.save(hardState: batch.raft.hardState, entries: batch.raft.entries, mustSync: batch.raft.mustSync)
                messages.append(contentsOf: batch.raft.messages.filter { !isolated.contains($0.from) && !isolated.contains($0.to) })
                collect(batch.replies)
                for job in batch.passwordJobs { doJob(job, on: id) }
                collect(hosts[id]!.advance())
                if let job = batch.snapshotJob {
                    let snapshot = Snapshot(meta: job.meta, data: job.machine.snapshot())
                    try! storages[id]!.saveSnapshot(snapshot)
                    let through = hosts[id]!.snapshotTaken(snapshot)
                    try! storages[id]!.compact(through: through)
                    snapshotsTaken += 1
                }
            }
            let inFlight = messages
            messages.removeAll()
            for m in inFlight {
                moved = true
                hosts[m.to]!.receive(m)
            }
        }
    }

    mutating func collect(_ out: [Reply]) {
        for r in out { replies[r.target] = r.response }
    }

    mutating func doJob(_ job: PasswordJob, on id: NodeID) {
        passwordJobCount += 1
        switch job.work {
        case let .hash(password):
            hosts[id]!.completePasswordJob(id: job.id, outcome: .hashed(salt: [1, 2, 3, 4, 5, 6, 7, 8], passwordHash: fakeHash(password, salt: [1, 2, 3, 4, 5, 6, 7, 8])))
        case let .verify(password, salt, hash):
            tokenCounter += 1
            let isMatch = fakeHash(password, salt: salt) == hash
            hosts[id]!.completePasswordJob(id: job.id, outcome: .verified(isMatch: isMatch, newToken: [UInt8](repeating: tokenCounter, count: 16)))
        }
    }

    /// Ticks every host `count` times, 10 ms apart, settling after each.
    mutating func tick(_ count: Int) {
        for _ in 0..<count {
            now += 10
            for id in ids { hosts[id]!.tick(nowMillis: now) }
            settle()
        }
    }

    mutating func electLeader() -> NodeID {
        tick(60)
        return leader!
    }

    /// Restarts host `id` from its storage (a crash: volatile state lost).
    mutating func restart(_ id: NodeID) throws {
        let old = hosts[id]!
        hosts[id] = try TrackerHost(raftConfig: old.raft.config, persisted: try storages[id]!.load(), options: old.options, hashToken: fakeTokenHash)
        messages.removeAll { $0.to == id || $0.from == id }
    }

    /// Sends a request to tracker `id` and returns its answer once the cluster settles.
    mutating func send(_ request: ClientRequest, to id: NodeID, connection: UInt64 = 1) -> ClientResponse? {
        let target = ReplyTarget(connection: connection, tag: request.sequence)
        replies[target] = nil
        hosts[id]!.submit(request, replyTo: target)
        settle()
        return replies[target]
    }
}

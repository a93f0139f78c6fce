import Consensus
import DurableLog
import Foundation
import TrackerService

/// The event loop: the one thread that owns the `TrackerHost`. It takes inputs from the other
/// threads, ticks the host on time, and carries out each batch in the order Raft requires:
/// persist (fsync), send, reply, apply.
final class TrackerServer {
    private var host: TrackerHost
    private let storage: FileStorage
    private let inputs: BlockingQueue<Input>
    private let peers: PeerLinks
    private let clients: ClientConnections
    private let passwords: PasswordWorker
    private let snapshotWriter: SnapshotWriter
    private let tickMillis: UInt64
    private var lastSoft: SoftState?
    /// Term and vote last made durable.
    private var durableTerm: UInt64 = 0
    private var durableVote: NodeID = 0
    private var shutdownDeadline: UInt64?
    static let slowFsyncMillis: UInt64 = 50
    static let shutdownTransferMillis: UInt64 = 1_000

    init(host: TrackerHost, storage: FileStorage, inputs: BlockingQueue<Input>, peers: PeerLinks,
         clients: ClientConnections, passwords: PasswordWorker, snapshotWriter: SnapshotWriter, tickMillis: UInt64) {
        self.snapshotWriter = snapshotWriter
        durableTerm = host.raft.term
        durableVote = host.raft.vote
        self.host = host
        self.storage = storage
        self.inputs = inputs
        self.peers = peers
        self.clients = clients
        self.passwords = passwords
        self.tickMillis = tickMillis
    }

    /// Runs until a shutdown completes; returns the process exit status.
    func run() -> Int32 {
        var nextTick = monotonicMillis() + tickMillis
        while true {
            let now = monotonicMillis()
            let wait = nextTick > now ? Int(nextTick - now) : 0
            for input in inputs.drain(timeoutMillis: wait) { handle(input) }
            let after = monotonicMillis()
            if after >= nextTick {
                host.tick(nowMillis: wallMillis())
                // After a long stall, tick once and resynchronize rather than burst.
                nextTick = max(nextTick + tickMillis, after + 1)
            }
            guard drive() else { return 1 }
            if let deadline = shutdownDeadline, host.raft.role != .leader || monotonicMillis() >= deadline {
                Log.info("shutting down", ["raft.role": "\(host.raft.role)", "raft.term": "\(host.raft.term)"])
                return 0
            }
        }
    }

    private func handle(_ input: Input) {
        switch input {
        case let .raft(message, restored):
            host.receive(message, restoredMachine: restored)
        case let .request(request, target):
            host.submit(request, replyTo: target)
        case let .passwordDone(id, outcome):
            host.completePasswordJob(id: id, outcome: outcome)
        case let .snapshotWritten(snapshot):
            guard let snapshot else {
                host.snapshotFailed()
                return
            }
            let through = host.snapshotTaken(snapshot)
            do { try storage.compact(through: through) } catch { Log.warn("log compaction failed", ["error": "\(error)"]) }
        case let .shutdown(reason):
            guard shutdownDeadline == nil else { return }
            Log.info("shutdown requested", ["reason": reason])
            let isTransferring = host.transferLeadership()
            if isTransferring { Log.info("transferring leadership before exit", ["raft.term": "\(host.raft.term)"]) }
            shutdownDeadline = monotonicMillis() + (isTransferring ? Self.shutdownTransferMillis : 0)
        }
    }

    /// Carries out every ready batch. Returns false when the disk failed: the tracker must stop
    /// rather than acknowledge what it could not make durable.
    private func drive() -> Bool {
        var rounds = 0
        while host.hasReady && rounds < 64 {
            rounds += 1
            let batch = host.ready()
            if let soft = batch.raft.softState { logSoftState(soft) }
            if isLeaderAppendOnly(batch.raft) {
                // Raft thesis §10.2.1: a leader may send its new entries while it writes them;
                // it counts itself toward commit only once they are durable (advance()).
                peers.send(batch.raft.messages)
                guard persist(batch.raft) else { return false }
            } else {
                guard persist(batch.raft) else { return false }
                peers.send(batch.raft.messages)
            }
            clients.send(batch.replies)
            passwords.submit(batch.passwordJobs)
            clients.send(host.advance())
            if let job = batch.snapshotJob { snapshotWriter.submit(job) }
        }
        return true
    }

    /// A leader's batch whose messages depend on nothing but its own entries: no change of
    /// term or vote (a vote must be durable before it is granted), no snapshot.
    private func isLeaderAppendOnly(_ rd: Ready) -> Bool {
        guard host.raft.role == .leader, rd.softState == nil, rd.snapshot == nil else { return false }
        guard let hard = rd.hardState else { return true }
        return hard.term == durableTerm && hard.vote == durableVote
    }

    private func persist(_ rd: Ready) -> Bool {
        guard rd.hardState != nil || !rd.entries.isEmpty || rd.snapshot != nil else { return true }
        let start = monotonicMillis()
        do {
            if let snapshot = rd.snapshot {
                try storage.saveSnapshot(snapshot)
                Log.info("snapshot installed from leader", ["snapshot.index": "\(snapshot.meta.index)", "snapshot.bytes": "\(snapshot.data.count)"])
            }
            try storage.save(hardState: rd.hardState, entries: rd.entries, mustSync: rd.mustSync)
            if let hard = rd.hardState {
                durableTerm = hard.term
                durableVote = hard.vote
            }
        } catch {
            Log.error("storage failed, stopping", ["error": "\(error)"])
            return false
        }
        let elapsed = monotonicMillis() - start
        if elapsed >= Self.slowFsyncMillis {
            Log.warn("slow fsync", ["duration.ms": "\(elapsed)", "entries": "\(rd.entries.count)"])
        }
        return true
    }

    private func logSoftState(_ soft: SoftState) {
        defer { lastSoft = soft }
        let fields: KeyValuePairs<String, String> = ["raft.role": "\(soft.role)", "raft.term": "\(soft.term)", "raft.leader": "\(soft.leader)"]
        if soft.role != lastSoft?.role {
            switch soft.role {
            case .preCandidate: Log.info("election: pre-vote started (no leader heard within the election timeout)", fields)
            case .candidate: Log.info("election: campaigning", fields)
            case .leader: Log.info("became leader", fields)
            case .follower: Log.info("became follower", fields)
            }
        } else if soft.leader != lastSoft?.leader {
            Log.info("leader changed", fields)
        }
    }
}

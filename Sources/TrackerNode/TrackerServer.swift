import Consensus
import DurableLog
import Foundation
import Networking
import TrackerHosting

/// The event loop: the one thread that owns the tracker's `HostExecutor` and its accepted
/// sockets (`ConnectionLoop`). It waits in one epoll for sockets, the control lane and the next
/// tick; hands what arrived to the executor on the same thread; and lets the executor carry out
/// every batch, whose replies it writes itself. The effects (fsync, sockets, worker threads)
/// are in `NodeEffects`.
final class TrackerServer {
    private var executor: HostExecutor
    private var effects: NodeEffects
    private let inputs: BlockingQueue<Input>
    private let connections: ConnectionLoop
    private let tickMillis: UInt64
    private var shutdownDeadline: UInt64?
    static let shutdownTransferMillis: UInt64 = 1_000
    /// Where each tick's metrics sample goes (`--metrics-address`); nil: none are published.
    var metrics: MetricsStore?
    /// Whom the peer links reach: the seed list and the configuration in force.
    private var addressBook: PeerAddressBook

    init(host: TrackerHost, storage: FileStorage, inputs: BlockingQueue<Input>, peers: PeerLinks,
         connections: ConnectionLoop, passwords: PasswordWorker, snapshotWriter: SnapshotWriter, tickMillis: UInt64,
         seedAddresses: [NodeID: PeerAddress]) {
        executor = HostExecutor(host: host)
        addressBook = PeerAddressBook(seed: seedAddresses)
        self.connections = connections
        effects = NodeEffects(storage: storage, peers: peers, clients: connections, passwords: passwords, snapshotWriter: snapshotWriter)
        effects.metrics = LoopMetrics(commitIndex: host.raft.commitIndex)
        self.inputs = inputs
        self.tickMillis = tickMillis
    }

    /// Runs until a shutdown completes; returns the process exit status.
    func run() -> Int32 {
        var nextTick = monotonicMillis() + tickMillis
        var hasMoreWork = false
        publishMetrics()
        followConfiguration()
        while true {
            let now = monotonicMillis()
            let untilTick = nextTick > now ? Int(nextTick - now) : 0
            connections.serve(timeoutMillis: hasMoreWork ? 0 : min(untilTick, connections.millisUntilSweep(nowMillis: now)))
            // The control lane, after the wake-up was cleared in `serve`: nothing pushed is missed.
            for input in inputs.drain(timeoutMillis: 0) { handle(input) }
            for input in connections.takeIntake() { give(input) }
            let after = monotonicMillis()
            if after >= nextTick {
                give(.tick(nowMillis: wallMillis()))
                // After a long stall, tick once and resynchronize rather than burst.
                nextTick = max(nextTick + tickMillis, after + 1)
                publishMetrics()
            }
            do { hasMoreWork = try executor.drain(effects: &effects) } catch {
                // The disk failed: stop rather than acknowledge what could not be made durable.
                Log.error("storage failed, stopping", ["error": "\(error)"])
                return 1
            }
            followConfiguration()
            if let deadline = shutdownDeadline, executor.host.raft.role != .leader || monotonicMillis() >= deadline {
                Log.info("shutting down", ["raft.role": "\(executor.host.raft.role)", "raft.term": "\(executor.host.raft.term)"])
                return 0
            }
        }
    }

    private func handle(_ input: Input) {
        switch input {
        case let .raft(message, restored): give(.raft(message, restored: restored))
        case let .passwordDone(id, outcome): give(.passwordDone(id: id, outcome: outcome))
        case let .snapshotWritten(snapshot): give(.snapshotWritten(snapshot))
        case let .shutdown(reason): startShutdown(reason: reason)
        }
    }

    /// Hands an input to the executor. Only compaction after a snapshot can fail here; the log
    /// is then merely longer than it needs to be.
    private func give(_ input: HostInput) {
        do {
            try executor.handle(input, effects: &effects)
        } catch {
            Log.warn("log compaction failed", ["error": "\(error)"])
        }
    }

    /// Hands the metrics endpoint a copy of what it shows (a lock held for the copy only).
    private func publishMetrics() {
        metrics?.publish(LoopSample.make(host: executor.host, executor: executor.counters, loop: effects.metrics))
    }

    /// When the configuration in force changed (an entry appended or overwritten, a snapshot
    /// installed): the peer links follow it, and the change is logged.
    private func followConfiguration() {
        let raft = executor.host.raft
        guard let changed = addressBook.follow(raft.configuration, isPending: raft.isConfigurationChangePending) else { return }
        effects.peers.update(changed, following: raft.configuration)
        Log.info("configuration in force", ["members": raft.configuration.members.map { "\($0.id):\($0.role):\($0.address):\(String($0.incarnation, radix: 16))" }.joined(separator: ","),
                                            "pending": "\(raft.isConfigurationChangePending)", "own.role": raft.memberRole.map { "\($0)" } ?? "none"])
    }

    private func startShutdown(reason: String) {
        guard shutdownDeadline == nil else { return }
        Log.info("shutdown requested", ["reason": reason])
        let isTransferring = executor.transferLeadership()
        if isTransferring { Log.info("transferring leadership before exit", ["raft.term": "\(executor.host.raft.term)"]) }
        shutdownDeadline = monotonicMillis() + (isTransferring ? Self.shutdownTransferMillis : 0)
    }
}

/// tracker-node's effects: the file log with fsync, the peer links, the client connections, the
/// password and snapshot worker threads.
struct NodeEffects: HostEffects {
    let storage: FileStorage
    let peers: PeerLinks
    let clients: ConnectionLoop
    let passwords: PasswordWorker
    let snapshotWriter: SnapshotWriter
    private var lastSoft: SoftState?
    /// The core's refusal counts last logged.
    private var loggedRefusals = RefusalCounts()
    /// `refusedCertificateMismatch` last logged.
    private var loggedCertificateMismatches = 0
    static let slowFsyncMillis: UInt64 = 50
    /// Counts and latencies for the metrics endpoint.
    var metrics = LoopMetrics()
    /// Whether the batch being carried out applies entries, and when its apply began (see
    /// `startPasswordJobs`).
    private var isApplying = false
    private var applyStartNanos: UInt64?

    init(storage: FileStorage, peers: PeerLinks, clients: ConnectionLoop, passwords: PasswordWorker, snapshotWriter: SnapshotWriter) {
        self.storage = storage
        self.peers = peers
        self.clients = clients
        self.passwords = passwords
        self.snapshotWriter = snapshotWriter
    }

    mutating func persistSnapshot(_ snapshot: Snapshot) throws {
        try storage.saveSnapshot(snapshot)
        Log.info("snapshot installed from leader", ["snapshot.index": "\(snapshot.meta.index)", "snapshot.bytes": "\(snapshot.data.count)"])
    }

    mutating func persist(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        let start = monotonicMillis()
        let startNanos = monotonicNanos()
        try storage.save(hardState: hardState, entries: entries, mustSync: mustSync)
        if mustSync { metrics.fsyncSeconds.observe(seconds(fromNanos: startNanos, to: monotonicNanos())) }
        let elapsed = monotonicMillis() - start
        if elapsed >= Self.slowFsyncMillis {
            Log.warn("slow fsync", ["duration.ms": "\(elapsed)", "entries": "\(entries.count)"])
        }
    }

    mutating func send(_ messages: [Message]) { peers.send(messages) }
    mutating func reply(_ replies: [Reply]) {
        if let start = applyStartNanos {
            metrics.applySeconds.observe(seconds(fromNanos: start, to: monotonicNanos()))
            applyStartNanos = nil
        }
        clients.send(replies)
    }

    /// The executor starts a batch's password jobs just before `advance()` (which applies the
    /// committed entries and serves reads) and replies just after it: the time between the two
    /// is the apply latency.
    mutating func startPasswordJobs(_ jobs: [PasswordJob]) {
        passwords.submit(jobs)
        if isApplying { applyStartNanos = monotonicNanos() }
    }
    mutating func startSnapshotJob(_ job: SnapshotJob) { snapshotWriter.submit(job) }
    mutating func compactLog(through index: UInt64) throws { try storage.compact(through: index) }

    mutating func willCarryOut(_ batch: HostBatch, order: BatchOrder) {
        if let soft = batch.raft.softState { logSoftState(soft) }
        isApplying = !batch.raft.committedEntries.isEmpty
        applyStartNanos = nil
    }

    /// Logs what the core refused since the last batch (the shell checks messages at the
    /// boundary too; these are what got past it, and elections the node could not start).
    mutating func didCarryOut(_ batch: HostBatch, host: TrackerHost) {
        applyStartNanos = nil
        metrics.observeBatch(term: host.raft.term, leader: host.raft.leader, commitIndex: host.raft.commitIndex,
                             ownEntries: host.raft.role == .leader ? batch.raft.entries.count : 0,
                             applied: batch.raft.committedEntries.count)
        let mismatches = host.counters.refusedCertificateMismatch
        if mismatches != loggedCertificateMismatches {
            loggedCertificateMismatches = mismatches
            Log.warnLimited("request refused: session token used with another certificate", ["count": "\(mismatches)"])
        }
        let refusals = host.raft.refusals
        guard refusals != loggedRefusals else { return }
        if refusals.campaigns != loggedRefusals.campaigns, let why = refusals.lastCampaign {
            Log.warnLimited("election not started", ["reason": "\(why)", "raft.term": "\(host.raft.term)"])
        }
        if refusals.messages != loggedRefusals.messages, let why = refusals.lastMessage {
            Log.warnLimited("raft message refused by the core", ["reason": "\(why)", "count": "\(refusals.messages)"])
        }
        loggedRefusals = refusals
    }

    private mutating func logSoftState(_ soft: SoftState) {
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

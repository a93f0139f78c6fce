import Consensus
import TrackerHosting

/// A simulated tracker's effects for the production `HostExecutor`: the simulated disk (whose
/// planted crashes throw, stopping the executor mid-batch exactly where a real crash would),
/// the simulated network, and simulated worker threads. Time passes while the window's syncs
/// run: everything sent after a sync leaves that much later.
struct SimEffects: HostEffects {
    unowned let sim: Simulation
    let index: Int
    /// Simulated time the window has spent so far (its syncs).
    private(set) var elapsedMicros: UInt64 = 0
    /// Whether the batch being carried out installed a snapshot (its answer is then counted
    /// when lost).
    private var isInstallingSnapshot = false

    /// A planted crash stopped the window.
    struct Crashed: Error {}

    init(sim: Simulation, index: Int) {
        self.sim = sim
        self.index = index
    }

    private mutating func spendSync(bytes: Int = 0, syncs: UInt64 = 1) {
        for _ in 0..<syncs { elapsedMicros += UInt64.random(in: sim.syncMicros(index), using: &sim.random) }
        elapsedMicros += UInt64(bytes / 1_000) + sim.nodes[index].stallNextSyncMicros
        if sim.nodes[index].stallNextSyncMicros > 0 { sim.coverage.add("sync stalled") }
        sim.nodes[index].stallNextSyncMicros = 0
    }

    mutating func persistSnapshot(_ snapshot: Snapshot) throws {
        isInstallingSnapshot = true
        if sim.nodes[index].tearsNextSnapshot {
            sim.tearSnapshotOnDisk(snapshot, on: index, verb: "installs")
            throw Crashed()
        }
        try sim.nodes[index].disk.saveSnapshot(snapshot)
        spendSync(bytes: snapshot.data.count, syncs: 3) // temporary file, rename, directory
        sim.nodes[index].snapshotsInstalled += 1
        sim.trace.record(sim.nowMicros, TraceCode.snapshot.rawValue, sim.nodes[index].id, snapshot.meta.index, snapshot.meta.term, 1,
                         "tracker \(index + 1) installs a snapshot through \(snapshot.meta.index)")
    }

    mutating func persist(hardState: HardState?, entries: [Entry], mustSync: Bool) throws {
        let disk = sim.nodes[index].disk
        let isTruncating = entries.first.map { $0.index <= disk.current.baseIndex + UInt64(disk.current.entries.count) } ?? false
        if (sim.nodes[index].tearsNextWrite && (!entries.isEmpty || hardState != nil)) || (sim.nodes[index].tearsNextTruncatingWrite && isTruncating) {
            if disk.hasTruncatedSinceCrash { sim.coverage.add("truncation before a crash") }
            let kept = disk.crashTearing(hardState: hardState, entries: entries, using: &sim.random)
            sim.coverage.add("torn write")
            sim.trace.record(sim.nowMicros, TraceCode.tornWrite.rawValue, sim.nodes[index].id, UInt64(kept), UInt64(entries.count), 0,
                             "tracker \(index + 1) crashes while writing \(entries.count) entries; \(kept) survive")
            throw Crashed()
        }
        try disk.save(hardState: hardState, entries: entries, mustSync: mustSync)
        if mustSync { spendSync(bytes: entries.reduce(0) { $0 + $1.sizeBytes }) }
    }

    mutating func send(_ messages: [Message]) {
        for message in messages {
            let isSnapshotAnswer = isInstallingSnapshot && message.kind == .appendResponse
            sim.sendRaft(message, afterMicros: elapsedMicros, isSnapshotAnswer: isSnapshotAnswer)
        }
    }

    mutating func reply(_ replies: [Reply]) {
        for reply in replies { sim.sendReply(reply, from: index, afterMicros: elapsedMicros) }
    }

    mutating func startPasswordJobs(_ jobs: [PasswordJob]) {
        for job in jobs { sim.startPasswordJob(job, on: index, afterMicros: elapsedMicros) }
    }

    mutating func startSnapshotJob(_ job: SnapshotJob) {
        let took = UInt64.random(in: sim.timing.snapshotJobMicros, using: &sim.random)
        sim.queue.schedule(.snapshotJobDone(node: index, epoch: sim.nodes[index].epoch, job: job),
                           atMicros: sim.nowMicros + elapsedMicros + took)
    }

    mutating func compactLog(through index: UInt64) throws {
        try sim.nodes[self.index].disk.compact(through: index)
    }

    mutating func willCarryOut(_ batch: HostBatch, order: BatchOrder) {
        isInstallingSnapshot = false
        if batch.raft.isEmpty && batch.replies.isEmpty && batch.passwordJobs.isEmpty && batch.raft.softState == nil && batch.snapshotJob == nil {
            sim.fail("hasReady means work", "tracker \(index + 1) said it had work and gave an empty batch")
        }
        for entry in batch.raft.committedEntries { sim.checkApplied(index, entry) }
    }

    mutating func didCarryOut(_ batch: HostBatch, host: TrackerHost) {
        sim.observeSoftState(index, batch.raft.softState, host: host)
        host.raft.checkInvariants()
        sim.checkCommitted(index, host: host)
    }
}

extension Simulation {
    /// Does the password work with the simulation's fake hash; it finishes 1-20 ms later.
    func startPasswordJob(_ job: PasswordJob, on index: Int, afterMicros: UInt64) {
        let outcome: PasswordOutcome
        switch job.work {
        case let .hash(password):
            let salt = (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
            outcome = .hashed(salt: salt, passwordHash: simPasswordHash(password, salt: salt))
        case let .verify(password, salt, passwordHash):
            outcome = .verified(isMatch: simPasswordHash(password, salt: salt) == passwordHash)
        }
        let delay = afterMicros + UInt64.random(in: 1_000...20_000, using: &random)
        queue.schedule(.passwordDone(node: index, epoch: nodes[index].epoch, jobID: job.id, outcome: outcome), atMicros: nowMicros + delay)
    }
}

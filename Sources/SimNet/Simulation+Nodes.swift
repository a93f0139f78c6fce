import Consensus
import TrackerService
import TrackerStateMachine

/// Trackers: ticks, inputs, carrying out batches in Ready order, crashes, restarts and pauses.
extension Simulation {
    static func makeHost(id: NodeID, peers: [NodeID], disk: SimDisk, options: HostOptions, appendEntriesMax: Int, seed: UInt64) -> TrackerHost {
        var config = Config(id: id, peers: peers)
        config.randomSeed = seed
        config.appendEntriesMax = appendEntriesMax
        let persisted = try! disk.load()
        let host = try! TrackerHost(raftConfig: config, persisted: persisted, options: options, hashToken: simTokenHash)
        host.raft.checkInvariants()
        return host
    }

    /// Restarts node `index` as a fresh process from what its disk holds.
    func startHost(_ index: Int) {
        nodes[index].host = Self.makeHost(id: nodes[index].id, peers: peers, disk: nodes[index].disk, options: hostOptions,
                                          appendEntriesMax: appendEntriesMax, seed: random.next())
        nodes[index].isUp = true
        nodes[index].checkedCommit = 0
        nodes[index].lastRole = .follower
    }

    func handleTick(_ index: Int) {
        queue.schedule(.tick(node: index), atMicros: nowMicros + nodes[index].tickMicros)
        nodes[index].localMillis += Simulation.tickMicros / 1_000
        guard nodes[index].isUp, !nodes[index].isPaused else { return }
        nodes[index].host.tick(nowMillis: nodes[index].localMillis)
        drain(index)
    }

    /// Hands an input to a running node, holds it if the node is paused, drops it if down.
    func deliverToNode(_ index: Int, _ kind: EventKind) {
        guard nodes[index].isUp else {
            if case let .deliver(m) = kind {
                trace.record(nowMicros, TraceCode.dropDown.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                             "drop \(m.kind) \(m.from)->\(m.to): node down")
            }
            return
        }
        if nodes[index].isPaused {
            if nodes[index].inbox.count < Self.inboxMax { nodes[index].inbox.append(kind) }
            return
        }
        switch kind {
        case let .deliver(m):
            // A link cut while a message is in flight loses it too.
            if blocked[Int(m.from) - 1][index] {
                trace.record(nowMicros, TraceCode.dropPartition.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                             "drop \(m.kind) \(m.from)->\(m.to): link cut in flight")
                return
            }
            trace.record(nowMicros, TraceCode.deliver.rawValue, m.from, m.to, UInt64(m.kind.rawValue) << 32 | UInt64(m.entries.count), m.term,
                         "deliver \(m.kind) \(m.from)->\(m.to) term=\(m.term) index=\(m.index) entries=\(m.entries.count) commit=\(m.commit)\(m.reject ? " reject" : "")")
            nodes[index].host.receive(m)
        case let .request(_, client, attempt, request):
            trace.record(nowMicros, TraceCode.request.rawValue, UInt64(index + 1), UInt64(client), attempt, request.sequence,
                         "request client=\(client) seq=\(request.sequence) attempt=\(attempt) at tracker \(index + 1)")
            nodes[index].host.submit(request, replyTo: ReplyTarget(connection: UInt64(client), tag: attempt))
        case let .passwordDone(_, _, jobID, outcome):
            nodes[index].host.completePasswordJob(id: jobID, outcome: outcome)
        default:
            preconditionFailure("not a node input")
        }
        drain(index)
    }

    /// Carries out every batch the node has, in Ready order: persist, send, reply, apply
    /// (advance), then start password work. Checks the invariants after each batch.
    func drain(_ index: Int) {
        var batches = 0
        while !hasViolation, nodes[index].isUp, nodes[index].host.hasReady {
            batches += 1
            precondition(batches <= Self.drainBatchesMax, "node \(index + 1) never runs out of work")
            let batch = nodes[index].host.ready()
            if batch.raft.isEmpty && batch.replies.isEmpty && batch.passwordJobs.isEmpty && batch.raft.softState == nil && batch.snapshotJob == nil {
                fail("hasReady means work", "tracker \(index + 1) (\(nodes[index].host.raft.role)) said it had work and gave an empty batch")
            }
            observeSoftState(index, batch.raft.softState)
            let raft = batch.raft
            if nodes[index].tearsNextWrite && !raft.entries.isEmpty {
                let kept = nodes[index].disk.crashTearing(hardState: raft.hardState, entries: raft.entries, using: &random)
                trace.record(nowMicros, TraceCode.tornWrite.rawValue, nodes[index].id, UInt64(kept), UInt64(raft.entries.count), 0,
                             "tracker \(index + 1) crashes while writing \(raft.entries.count) entries; \(kept) survive")
                crash(index, isDiskAlreadyCrashed: true)
                if options.isFaultInjectionOn && healedAtMicros == nil { scheduleRestart(index) }
                return
            }
            if let snapshot = raft.snapshot {
                guard saveSnapshot(snapshot, on: index, isInstalled: true) else { return }
            }
            try! nodes[index].disk.save(hardState: raft.hardState, entries: raft.entries, mustSync: raft.mustSync)
            for message in raft.messages { sendRaft(message) }
            for reply in batch.replies { sendReply(reply, from: index) }
            for entry in raft.committedEntries { checkApplied(index, entry) }
            for reply in nodes[index].host.advance() { sendReply(reply, from: index) }
            for job in batch.passwordJobs { startPasswordJob(job, on: index) }
            if let job = batch.snapshotJob { guard takeSnapshot(job, on: index) else { return } }
            nodes[index].host.raft.checkInvariants()
            checkCommitted(index)
        }
    }

    /// Serializes and stores a snapshot at once (the real tracker does this on a thread of its
    /// own; here time does not pass while it runs). Returns false when a planted crash tore the
    /// write and the node is down.
    func takeSnapshot(_ job: SnapshotJob, on index: Int) -> Bool {
        let snapshot = Snapshot(meta: job.meta, data: job.machine.snapshot())
        guard saveSnapshot(snapshot, on: index, isInstalled: false) else { return false }
        let through = nodes[index].host.snapshotTaken(snapshot)
        try! nodes[index].disk.compact(through: through)
        return true
    }

    /// Makes a snapshot durable on node `index`'s disk, or, when a crash was planted for it,
    /// crashes the node in the middle of the write. Returns whether the node is still up.
    func saveSnapshot(_ snapshot: Snapshot, on index: Int, isInstalled: Bool) -> Bool {
        let verb = isInstalled ? "installs" : "takes"
        guard nodes[index].tearsNextSnapshot else {
            try! nodes[index].disk.saveSnapshot(snapshot)
            if isInstalled { nodes[index].snapshotsInstalled += 1 } else { nodes[index].snapshotsTaken += 1 }
            trace.record(nowMicros, TraceCode.snapshot.rawValue, nodes[index].id, snapshot.meta.index, snapshot.meta.term, isInstalled ? 1 : 0,
                         "tracker \(index + 1) \(verb) a snapshot through \(snapshot.meta.index)")
            return true
        }
        let isKept = nodes[index].disk.crashDuringSnapshot(snapshot, isRenamed: nodes[index].isTornSnapshotRenamed, using: &random)
        nodes[index].tornSnapshotIndex = snapshot.meta.index
        trace.record(nowMicros, TraceCode.tornSnapshot.rawValue, nodes[index].id, snapshot.meta.index, isKept ? 1 : 0, isInstalled ? 1 : 0,
                     "tracker \(index + 1) crashes while it \(verb) a snapshot through \(snapshot.meta.index); \(isKept ? "renamed" : "lost")")
        crash(index, isDiskAlreadyCrashed: true)
        if options.isFaultInjectionOn && healedAtMicros == nil { scheduleRestart(index) }
        return false
    }

    func observeSoftState(_ index: Int, _ soft: SoftState?) {
        guard let soft, soft.role != nodes[index].lastRole else { return }
        nodes[index].lastRole = soft.role
        trace.record(nowMicros, TraceCode.role.rawValue, nodes[index].id, UInt64(soft.role.rawValue), soft.term, soft.leader,
                     "tracker \(index + 1) becomes \(soft.role) term=\(soft.term)")
        if soft.role == .leader {
            checkNewLeader(index, term: soft.term)
            maybeScheduleCutOfNewLeader(index)
        }
    }

    /// Does the password work with the simulation's fake hash; it finishes 1-20 ms later.
    func startPasswordJob(_ job: PasswordJob, on index: Int) {
        let outcome: PasswordOutcome
        switch job.work {
        case let .hash(password):
            let salt = (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
            outcome = .hashed(salt: salt, passwordHash: simPasswordHash(password, salt: salt))
        case let .verify(password, salt, passwordHash):
            let isMatch = simPasswordHash(password, salt: salt) == passwordHash
            let token = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
            outcome = .verified(isMatch: isMatch, newToken: isMatch ? token : [])
        }
        let delay = UInt64.random(in: 1_000...20_000, using: &random)
        queue.schedule(.passwordDone(node: index, epoch: nodes[index].epoch, jobID: job.id, outcome: outcome), atMicros: nowMicros + delay)
    }

    /// Kills node `index`: its process state is gone, its disk keeps what a crash keeps.
    public func crash(_ index: Int, isDiskAlreadyCrashed: Bool = false) {
        guard nodes[index].isUp else { return }
        var lost = 0
        if !isDiskAlreadyCrashed { lost = nodes[index].disk.crash(using: &random) }
        nodes[index].isUp = false
        nodes[index].epoch += 1
        nodes[index].isPaused = false
        nodes[index].inbox.removeAll()
        nodes[index].tearsNextWrite = false
        nodes[index].tearsNextSnapshot = false
        nodes[index].isTornSnapshotRenamed = nil
        nodes[index].crashCount += 1
        trace.record(nowMicros, TraceCode.crash.rawValue, nodes[index].id, UInt64(lost), 0, 0,
                     "tracker \(index + 1) crashes; \(lost) unsynced writes lost")
    }

    /// Wipes tracker `index`: it crashes and its disk is replaced by an empty one (a lost or
    /// replaced drive). `restart` brings it back with no log, no snapshot and term 0.
    public func wipe(_ index: Int) {
        crash(index)
        nodes[index].disk = SimDisk(isVoteSyncSkipped: options.plantedBug == .skipVoteFsync)
        trace.record(nowMicros, TraceCode.wipe.rawValue, nodes[index].id, 0, 0, 0, "tracker \(index + 1) loses its disk")
    }

    /// Starts a crashed node again from its disk.
    public func restart(_ index: Int) {
        guard !nodes[index].isUp else { return }
        startHost(index)
        let persisted = try! nodes[index].disk.load()
        trace.record(nowMicros, TraceCode.restart.rawValue, nodes[index].id, persisted.hardState.term, UInt64(persisted.entries.count), 0,
                     "tracker \(index + 1) restarts term=\(persisted.hardState.term) entries=\(persisted.entries.count)")
        drain(index)
    }

    /// Freezes a node (a stalled disk or a stopped process): it neither ticks nor handles input.
    public func pause(_ index: Int) {
        guard nodes[index].isUp, !nodes[index].isPaused else { return }
        nodes[index].isPaused = true
        trace.record(nowMicros, TraceCode.pause.rawValue, nodes[index].id, 0, 0, 0, "tracker \(index + 1) pauses")
    }

    /// Unfreezes a node; it handles what arrived meanwhile, in order.
    public func resume(_ index: Int) {
        guard nodes[index].isUp, nodes[index].isPaused else { return }
        nodes[index].isPaused = false
        trace.record(nowMicros, TraceCode.resume.rawValue, nodes[index].id, UInt64(nodes[index].inbox.count), 0, 0,
                     "tracker \(index + 1) resumes with \(nodes[index].inbox.count) held inputs")
        let held = nodes[index].inbox
        nodes[index].inbox.removeAll()
        for input in held where !hasViolation { deliverToNode(index, input) }
    }

    /// Sets node `index`'s clock rate (1 is exact; 1.2 ticks 20% fast).
    public func setClockRate(_ index: Int, rate: Double) {
        nodes[index].tickMicros = UInt64(Double(Simulation.tickMicros) / rate)
        trace.record(nowMicros, TraceCode.skew.rawValue, nodes[index].id, nodes[index].tickMicros, 0, 0,
                     "tracker \(index + 1) ticks every \(nodes[index].tickMicros)us")
    }
}

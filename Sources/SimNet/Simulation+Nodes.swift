import Consensus
import TrackerHosting

/// Trackers: the production executor fed from an input queue in windows, as tracker-node's
/// event loop is; crashes, restarts and pauses.
extension Simulation {
    static func makeHost(id: NodeID, configuration: Configuration, disk: SimDisk, options: HostOptions, appendEntriesMax: Int, seed: UInt64,
                         plantedBug: PlantedBug, incarnation: UInt64 = 0) -> TrackerHost {
        var config = RaftConfig(id: id, initialConfiguration: configuration)
        config.incarnation = incarnation
        config.isWitnessMarkIgnoredForVotes = plantedBug == .witnessVotesWithoutMark
        config.isConfigurationChangeBeforeTermCommitAllowed = plantedBug == .configBeforeTermCommit
        config.randomSeed = seed
        config.appendEntriesMax = appendEntriesMax
        let persisted = try! disk.load()
        let host = try! TrackerHost(raftConfig: config, persisted: persisted, options: options, hashToken: simTokenHash)
        host.raft.checkInvariants()
        return host
    }

    /// A new disk with this run's planted disk bugs.
    func makeDisk() -> SimDisk {
        SimDisk(isVoteSyncSkipped: options.plantedBug == .skipVoteFsync,
                isTruncationSyncSkipped: options.plantedBug == .unsyncedTruncation)
    }

    /// Restarts node `index` as a fresh process from what its disk holds.
    func startHost(_ index: Int) {
        // A tracker added at runtime starts from an empty configuration (its disk holds the rest).
        let configuration = nodes[index].incarnation == 0 ? initialConfiguration : .empty
        let host = Self.makeHost(id: nodes[index].id, configuration: configuration, disk: nodes[index].disk, options: nodeHostOptions(index),
                                 appendEntriesMax: appendEntriesMax, seed: random.next(), plantedBug: options.plantedBug,
                                 incarnation: nodes[index].incarnation)
        nodes[index].box = ExecutorBox(HostExecutor(host: host))
        nodes[index].isUp = true
        nodes[index].checkedCommit = 0
        nodes[index].lastRole = .follower
        nodes[index].inbox.removeAll()
        nodes[index].restorer = SimRestorer()
        nodes[index].isProcessScheduled = false
        nodes[index].busyUntilMicros = nowMicros
    }

    func handleTick(_ index: Int) {
        queue.schedule(.tick(node: index), atMicros: nowMicros + nodes[index].tickMicros)
        nodes[index].localMillis += Simulation.tickMicros / 1_000
        guard nodes[index].isUp, !nodes[index].isPaused else { return }
        nodes[index].inbox.append(.tick(nowMillis: nodes[index].localMillis))
        if !nodes[index].isProcessScheduled && nodes[index].busyUntilMicros <= nowMicros && slowTracker?.index != index {
            process(index) // an idle loop takes its tick at once (the same as a window now)
        } else {
            scheduleProcess(index)
        }
    }

    /// Hands an input to a running node's queue (held while it is paused, dropped if it is
    /// down); the node takes it in its next window.
    func deliverToNode(_ index: Int, _ kind: EventKind) {
        guard nodes[index].isUp else {
            switch kind {
            case let .deliver(m):
                trace.record(nowMicros, TraceCode.dropDown.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                             "drop \(m.kind) \(m.from)->\(m.to): node down")
            case let .request(_, client, attempt, _):
                // The process is gone but its machine is up: the connection is reset at once.
                queue.schedule(.refused(client: client, attempt: attempt), atMicros: nowMicros + drawDelayMicros())
            default:
                break
            }
            return
        }
        switch kind {
        case let .deliver(m):
            // A link cut while a message is in flight loses it too.
            if blocked[Int(m.from) - 1][index] {
                if holdIfLinkHolds(m, isUnsent: false) { return }
                trace.record(nowMicros, TraceCode.dropPartition.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                             "drop \(m.kind) \(m.from)->\(m.to): link cut in flight")
                return
            }
            trace.record(nowMicros, TraceCode.deliver.rawValue, m.from, m.to, UInt64(m.kind.rawValue) << 32 | UInt64(m.entries.count), m.term,
                         "deliver \(m.kind) \(m.from)->\(m.to) term=\(m.term) index=\(m.index) entries=\(m.entries.count) commit=\(m.commit)\(m.reject ? " reject" : "")")
            if m.kind == .installSnapshot, m.snapshot != nil {
                submitToRestorer(index, m) // restored off the loop; it comes back through the control lane
            } else {
                enqueue(index, .raft(m, restored: nil))
            }
        case let .request(_, client, attempt, request):
            trace.record(nowMicros, TraceCode.request.rawValue, UInt64(index + 1), UInt64(client), attempt, request.sequence,
                         "request client=\(client) seq=\(request.sequence) attempt=\(attempt) at tracker \(index + 1)")
            enqueue(index, .request(request, ReplyTarget(connection: UInt64(client), tag: attempt)))
        case let .passwordDone(_, _, jobID, outcome):
            enqueue(index, .passwordDone(id: jobID, outcome: outcome))
        default:
            preconditionFailure("not a node input")
        }
    }

    /// Queues an input. Raft messages and requests beyond `inboxMax` are dropped like a full
    /// socket buffer; control inputs (ticks, job results) never are.
    func enqueue(_ index: Int, _ input: HostInput) {
        switch input {
        case .raft, .request, .admin:
            guard nodes[index].inbox.count < Self.inboxMax else { return }
        case .tick, .passwordDone, .snapshotWritten:
            break
        }
        nodes[index].inbox.append(input)
        scheduleProcess(index)
    }

    func scheduleProcess(_ index: Int) {
        guard nodes[index].isUp, !nodes[index].isPaused, !nodes[index].isProcessScheduled else { return }
        nodes[index].isProcessScheduled = true
        let at = max(nowMicros + loopWakeMicros(index), nodes[index].busyUntilMicros)
        queue.schedule(.process(node: index, epoch: nodes[index].epoch), atMicros: at)
    }

    /// One window of tracker-node's event loop: every queued input (up to the seed's window
    /// bound) handed to the executor, then its batches carried out. The window's syncs take
    /// simulated time; inputs that arrive meanwhile wait for the next window.
    func process(_ index: Int) {
        nodes[index].isProcessScheduled = false
        guard nodes[index].isUp, !nodes[index].isPaused, !hasViolation else { return }
        var inputs: [HostInput] = []
        if nodes[index].inbox.count <= timing.windowInputsMax {
            swap(&inputs, &nodes[index].inbox) // the whole queue, without copying it
        } else {
            inputs = Array(nodes[index].inbox.prefix(timing.windowInputsMax))
            nodes[index].inbox.removeFirst(timing.windowInputsMax)
        }
        if inputs.count > 1 { coverage.add("window with several inputs") }
        let box = nodes[index].box
        var effects = SimEffects(sim: self, index: index)
        var crashed = false
        var hasMore = false
        do {
            try handleWindow(index, inputs, effects: &effects)
            hasMore = try box.executor.drain(effects: &effects)
        } catch {
            crashed = true
        }
        nodes[index].busyUntilMicros = nowMicros + effects.elapsedMicros
        if crashed {
            crash(index, isDiskAlreadyCrashed: true)
            if options.isFaultInjectionOn && healedAtMicros == nil { scheduleRestart(index) }
            return
        }
        if !nodes[index].inbox.isEmpty || hasMore { scheduleProcess(index) }
    }

    /// A snapshot job finished serializing: its file is written (a planted crash may tear
    /// it), then the result waits in the node's queue like any input.
    func finishSnapshotJob(_ index: Int, _ job: SnapshotJob) {
        let snapshot = Snapshot(meta: job.meta, data: job.machine.snapshot())
        if nodes[index].tearsNextSnapshot {
            tearSnapshot(snapshot, on: index, verb: "takes")
            return
        }
        nodes[index].disk.writeSnapshotFile(snapshot)
        nodes[index].snapshotsTaken += 1
        coverage.add("snapshot taken")
        trace.record(nowMicros, TraceCode.snapshot.rawValue, nodes[index].id, snapshot.meta.index, snapshot.meta.term, 0,
                     "tracker \(index + 1) takes a snapshot through \(snapshot.meta.index)")
        enqueue(index, .snapshotWritten(snapshot))
    }

    /// Crashes node `index` in the middle of writing `snapshot`.
    func tearSnapshot(_ snapshot: Snapshot, on index: Int, verb: String) {
        tearSnapshotOnDisk(snapshot, on: index, verb: verb)
        crash(index, isDiskAlreadyCrashed: true)
        if options.isFaultInjectionOn && healedAtMicros == nil { scheduleRestart(index) }
    }

    /// The disk's part of a crash in the middle of writing `snapshot`.
    func tearSnapshotOnDisk(_ snapshot: Snapshot, on index: Int, verb: String) {
        let isKept = nodes[index].disk.crashDuringSnapshot(snapshot, isRenamed: nodes[index].isTornSnapshotRenamed, using: &random)
        nodes[index].tornSnapshotIndex = snapshot.meta.index
        trace.record(nowMicros, TraceCode.tornSnapshot.rawValue, nodes[index].id, snapshot.meta.index, isKept ? 1 : 0, 0,
                     "tracker \(index + 1) crashes while it \(verb) a snapshot through \(snapshot.meta.index); \(isKept ? "renamed" : "lost")")
    }

    func observeSoftState(_ index: Int, _ soft: SoftState?, host: TrackerHost) {
        guard let soft, soft.role != nodes[index].lastRole else { return }
        nodes[index].lastRole = soft.role
        trace.record(nowMicros, TraceCode.role.rawValue, nodes[index].id, UInt64(soft.role.rawValue), soft.term, soft.leader,
                     "tracker \(index + 1) becomes \(soft.role) term=\(soft.term)")
        if soft.role == .leader {
            checkNewLeader(index, term: soft.term, host: host)
            maybeScheduleCutOfNewLeader(index)
            maybeScheduleMembershipChangeOfNewLeader(index, host: host)
        }
    }

    /// Kills node `index`: its process state is gone, its disk keeps what a crash keeps.
    public func crash(_ index: Int, isDiskAlreadyCrashed: Bool = false) {
        guard nodes[index].isUp else { return }
        var lost = 0
        if !isDiskAlreadyCrashed {
            if nodes[index].disk.hasTruncatedSinceCrash { coverage.add("truncation before a crash") }
            lost = nodes[index].disk.crash(using: &random)
        }
        coverage.absorb(host: nodes[index].box.executor.host.counters, executor: nodes[index].box.executor.counters)
        coverage.add("crash")
        nodes[index].isUp = false
        nodes[index].epoch += 1
        nodes[index].isPaused = false
        nodes[index].inbox.removeAll()
        nodes[index].isProcessScheduled = false
        nodes[index].tearsNextWrite = false
        nodes[index].tearsNextTruncatingWrite = false
        nodes[index].stallNextSyncMicros = 0
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
        nodes[index].disk = makeDisk()
        trace.record(nowMicros, TraceCode.wipe.rawValue, nodes[index].id, 0, 0, 0, "tracker \(index + 1) loses its disk")
    }

    /// Starts a crashed node again from its disk. A log that a crash left malformed (terms
    /// going down) is a violation: `FileStorage` would hand it to Raft as it is.
    public func restart(_ index: Int) {
        guard !nodes[index].isUp else { return }
        let persisted = try! nodes[index].disk.load()
        if let broken = Self.termGoesDown(persisted.entries) {
            fail("a restarted log is well formed", "tracker \(index + 1) restarts with the term going down at index \(broken)")
            return
        }
        startHost(index)
        coverage.add("restart")
        trace.record(nowMicros, TraceCode.restart.rawValue, nodes[index].id, persisted.hardState.term, UInt64(persisted.entries.count), 0,
                     "tracker \(index + 1) restarts term=\(persisted.hardState.term) entries=\(persisted.entries.count)")
        scheduleProcess(index)
    }

    static func termGoesDown(_ entries: [Entry]) -> UInt64? {
        var previous: UInt64 = 0
        for entry in entries {
            if entry.term < previous { return entry.index }
            previous = entry.term
        }
        return nil
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
        scheduleProcess(index)
    }

    /// Sets node `index`'s clock rate (1 is exact; 1.2 ticks 20% fast).
    public func setClockRate(_ index: Int, rate: Double) {
        nodes[index].tickMicros = UInt64(Double(Simulation.tickMicros) / rate)
        trace.record(nowMicros, TraceCode.skew.rawValue, nodes[index].id, nodes[index].tickMicros, 0, 0,
                     "tracker \(index + 1) ticks every \(nodes[index].tickMicros)us")
    }
}

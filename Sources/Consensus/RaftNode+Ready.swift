/// Handing work to the host and taking its acknowledgements: `ready`, `advance`, compaction.
extension RaftNode {
    // MARK: - Ready / advance

    /// Whether `ready()` has anything for the host.
    public var hasReady: Bool {
        guard !isAwaitingAdvance else { return false }
        return softState != lastSoftState || hardState != lastHardState || log.lastIndex > log.stable
            || pendingSnapshot != nil || !messages.isEmpty || log.committed > log.applied || !readStates.isEmpty || !droppedReads.isEmpty
            || (role == .leader && (needsBroadcast || hasReadRoundToStart))
    }

    /// Takes the next batch of work. The host must call `advance()` after carrying it out and
    /// before any other input.
    public mutating func ready() -> Ready {
        precondition(!isAwaitingAdvance, "ready() twice without advance()")
        if role == .leader { flushLeaderSends() }
        var batch = Ready()
        let soft = softState
        if soft != lastSoftState { batch.softState = soft }
        let hard = hardState
        if hard != lastHardState { batch.hardState = hard }
        batch.snapshot = pendingSnapshot
        pendingSnapshot = nil
        batch.entries = log.entries(from: log.stable + 1, through: log.lastIndex)
        // A witness's mark must be durable before the acknowledgement that depends on it leaves.
        batch.mustSync = !batch.entries.isEmpty || batch.snapshot != nil
            || hard.term != lastHardState.term || hard.vote != lastHardState.vote || hard.witnessMark != lastHardState.witnessMark
        batch.messages = messages
        batch.committedEntries = log.nextEntriesToApply(maxCount: config.applyEntriesMax)
        batch.readStates = readStates
        batch.droppedReads = droppedReads
        messages.removeAll()
        readStates.removeAll()
        droppedReads.removeAll()
        lastSoftState = soft
        lastHardState = hard
        pendingReady = (log.lastIndex, log.lastTerm, batch.committedEntries.last?.index ?? log.applied)
        isAwaitingAdvance = true
        return batch
    }

    /// Acknowledges that the last `Ready` was carried out: its entries are stable and its
    /// committed entries applied.
    public mutating func advance() {
        precondition(isAwaitingAdvance, "advance() without ready()")
        isAwaitingAdvance = false
        guard let done = pendingReady else { return }
        pendingReady = nil
        log.stable = done.lastIndex
        log.applied = done.applied
        if role == .leader, done.lastTerm == term, progress[config.id]!.maybeUpdate(done.lastIndex) {
            // The leader's durable log grew: it counts itself, and an engaged witness is told.
            if !maybeCommitAndBroadcast() { sendWitnessAppend(sendIfEmpty: false) }
        }
    }

    /// The host made `meta` durable as a snapshot of its applied state: entries through
    /// `meta.index - retainedEntries` leave the in-memory log (a little is kept so that a
    /// follower slightly behind gets entries, not a whole snapshot). Followers that need
    /// compacted entries are sent an InstallSnapshot whose bytes the host attaches. A snapshot
    /// the log has moved past (a leader's snapshot was installed while the host wrote this
    /// one) changes nothing. `meta` must carry the configuration in force at its index (see
    /// `snapshotMeta(at:)`; nil only where that is the initial configuration).
    public mutating func compact(through meta: SnapshotMeta, retainedEntries: UInt64 = 0) {
        precondition(!isAwaitingAdvance, "input before advance()")
        guard meta.index >= log.offsetIndex else { return }
        precondition(meta.index <= log.applied, "snapshot \(meta.index) beyond applied \(log.applied)")
        precondition(log.term(at: meta.index) == meta.term, "snapshot term mismatch")
        precondition((meta.configuration ?? config.initialConfiguration) == log.configurations.configuration(at: meta.index),
                     "snapshot at \(meta.index) does not carry the configuration in force there")
        if meta.index > (snapshotMeta?.index ?? 0) { snapshotMeta = meta }
        guard meta.index > retainedEntries else { return }
        log.compact(through: catchUpFloor(meta.index - retainedEntries))
    }

    /// Where the log has been compacted to: entries through it are only in snapshots.
    public var compactedIndex: UInt64 { log.offsetIndex }

    /// On a leader, how far compaction may go so that each live follower catching up still
    /// finds the entries after its position (the snapshot it is being sent, or the match it is
    /// probed from): otherwise a
    /// follower whose install takes longer than the leader takes to compact again needs a new
    /// snapshot after every install and never catches up. At most `catchUpEntriesMax` entries
    /// are kept for that (etcd keeps a fixed 5,000); a silent follower keeps none.
    func catchUpFloor(_ through: UInt64) -> UInt64 {
        guard role == .leader else { return through }
        let witness = configuration.witnessID
        var floor = through
        for (id, p) in progress where id != config.id && id != witness && p.isHeard(within: config.electionTimeoutTicks) {
            switch p.state {
            case .snapshot: floor = min(floor, p.pendingSnapshotIndex)
            case .probe: floor = min(floor, p.match)
            case .replicate: break // current: what it still needs is in flight to it
            }
        }
        let lowest = through > config.catchUpEntriesMax ? through - config.catchUpEntriesMax : 0
        return max(floor, lowest)
    }

    /// The metadata of a snapshot of the state through `index` (applied, and not compacted
    /// away): its term and the configuration in force there (none on a node that joined with
    /// the empty configuration and does not know the seed one yet). Nil when the log does not
    /// hold `index`.
    public func snapshotMeta(at index: UInt64) -> SnapshotMeta? {
        guard index >= log.offsetIndex, let term = log.term(at: index) else { return nil }
        let configuration = log.configurations.configuration(at: index)
        return SnapshotMeta(index: index, term: term, configuration: configuration.isEmpty ? nil : configuration)
    }

    /// Checks the core's invariants; traps when one is broken. Tests and the simulator call
    /// it after every step.
    public func checkInvariants() {
        log.checkInvariants()
        precondition(log.lastTerm <= term, "last log term \(log.lastTerm) beyond term \(term)")
        precondition(role != .leader || leader == config.id, "leader does not know itself")
        precondition(role == .leader || progress.isEmpty, "non-leader keeps progress")
        precondition(role != .candidate || vote == config.id, "candidate did not vote for itself")
        precondition(role != .leader || isFullVoter(in: configuration) || isConfigurationChangePending, "leader is not a full voter of a committed configuration")
        precondition(!isWitness || (log.lastIndex == 0 && role == .follower), "a witness holds a log or leads")
        precondition(witnessMark.term <= term, "witness mark of a later term")
        if role == .leader {
            for (id, pr) in progress {
                precondition(pr.match < pr.next, "progress \(id): match \(pr.match) >= next \(pr.next)")
                precondition(pr.match <= log.lastIndex, "progress \(id) beyond log")
                precondition(id == config.id || configuration.member(id) != nil || isConfigurationChangePending, "progress for non-member \(id)")
            }
        }
    }
}

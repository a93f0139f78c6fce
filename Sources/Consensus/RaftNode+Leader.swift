/// The leader's work: replication with flow control, commitment, heartbeats, ReadIndex and
/// leadership transfer.
extension RaftNode {
    mutating func appendToLeaderLog(_ entry: Entry) {
        log.append([entry])
        needsBroadcast = true
        if entry.kind == .configuration { updateProgressForConfiguration() }
    }

    /// Sends what proposals and reads accumulated since the last batch: appends go out once per
    /// batch, so many proposals share one message.
    mutating func flushLeaderSends() {
        if needsBroadcast {
            needsBroadcast = false
            broadcastAppend(sendIfEmpty: false)
        }
        if hasReadRoundToStart {
            reads.startRound(index: log.committed)
            broadcastHeartbeat()
        }
    }

    /// Whether reads wait for a heartbeat round that `ready()` would start now. `hasReady` and
    /// `flushLeaderSends` must agree on it, or a host spins on empty batches.
    var hasReadRoundToStart: Bool {
        reads.hasUnsent && !reads.hasRoundInFlight && !isSingleNode
    }

    mutating func stepLeader(_ m: Message) {
        guard progress[m.from] != nil else { return }
        progress[m.from]!.markHeard()
        progress[m.from]!.incarnation = m.fromIncarnation
        if configuration.role(of: m.from) == .witness { return stepWitnessResponse(m) }
        switch m.kind {
        case .appendResponse:
            handleAppendResponse(m)
        case .heartbeatResponse:
            if m.index < progress[m.from]!.match {
                // The follower holds less than it once acknowledged: its disk was lost. What it
                // holds now is unverified, so nothing of it counts toward commit: match goes to
                // zero and a probe from its last index finds where the logs agree (lowering
                // match never uncommits anything).
                progress[m.from]!.match = 0
                progress[m.from]!.probe(from: m.index + 1, lastIndex: log.lastIndex)
            }
            if progress[m.from]!.state == .snapshot, m.index >= progress[m.from]!.pendingSnapshotIndex {
                // The follower's log reaches past the snapshot: it installed it and its answer
                // was lost. Probe right after the snapshot instead of waiting for the timeout
                // (the probe, not this answer, verifies that the logs agree there).
                progress[m.from]!.probe(from: progress[m.from]!.pendingSnapshotIndex + 1, lastIndex: log.lastIndex)
            } else if progress[m.from]!.state == .snapshot, progress[m.from]!.ticksInSnapshot >= config.electionTimeoutTicks {
                // An election timeout after the snapshot went out, the follower still answers
                // without it: it was lost (dropped, or the follower restarted). Send it again.
                progress[m.from]!.becomeProbe()
            }
            if progress[m.from]!.state == .probe { progress[m.from]!.isProbeSent = false }
            progress[m.from]!.freeFirstInflightIfFull(inflightMax: config.inflightAppendsMax)
            // Behind: probe again even with nothing new (lost appends are found by the rejection).
            if progress[m.from]!.match < log.lastIndex { sendAppend(to: m.from, sendIfEmpty: true) }
            if m.context != 0 { handleReadAck(from: m.from, round: m.context) }
        default:
            break
        }
    }

    mutating func handleAppendResponse(_ m: Message) {
        if m.reject {
            var hint = m.rejectHint
            if m.logTerm > 0 { hint = log.findConflictByTerm(index: m.rejectHint, term: m.logTerm).index }
            if progress[m.from]!.maybeDecrease(rejected: m.index, hint: hint) {
                sendAppend(to: m.from, sendIfEmpty: true)
            }
            return
        }
        let wasProbe = progress[m.from]!.state == .probe
        guard progress[m.from]!.maybeUpdate(m.index) else {
            if wasProbe { sendAppend(to: m.from, sendIfEmpty: false) }
            return
        }
        if progress[m.from]!.state == .snapshot {
            // The higher match counts toward commit whatever the state: an answer to an append
            // can land after the leader went back to sending this follower its snapshot.
            let isInstalled = progress[m.from]!.match >= progress[m.from]!.pendingSnapshotIndex
            if isInstalled { progress[m.from]!.becomeProbe() } // back to appends
            if !maybeCommitAndBroadcast() && isInstalled { sendAppend(to: m.from, sendIfEmpty: false) }
            return
        }
        if wasProbe { progress[m.from]!.becomeReplicate() }
        if !maybeCommitAndBroadcast() {
            sendAppends(to: m.from)
            // Tell a follower the commit index it has not heard yet, even with nothing new to send.
            if progress[m.from]!.sentCommit < log.committed { sendAppend(to: m.from, sendIfEmpty: true) }
        }
        if m.from == transferee && progress[m.from]!.match == log.lastIndex {
            send(Message(kind: .timeoutNow, from: config.id, to: m.from, term: term))
        }
    }

    /// Sends appends to `id` until it is caught up or its in-flight window is full.
    mutating func sendAppends(to id: NodeID) {
        var sent = 0
        while sent < config.inflightAppendsMax && sendAppend(to: id, sendIfEmpty: false) { sent += 1 }
    }

    /// Commits what a quorum of voting members holds, if it is of this term (Figure 8), and then
    /// tells followers. The witness's acknowledgements count only while it is engaged; a
    /// leader that is not a voting member of its configuration does not count itself.
    @discardableResult
    mutating func maybeCommitAndBroadcast() -> Bool {
        let witness = configuration.witnessID
        let matches = configuration.votingIDs.map { id in
            id == witness && !isWitnessEngaged ? 0 : progress[id]?.match ?? 0
        }.sorted(by: >)
        let quorumMatch = matches[quorum - 1]
        guard quorumMatch > log.committed, log.term(at: quorumMatch) == term else { return false }
        let committedBytes = log.entries(from: log.committed + 1, through: quorumMatch)
            .reduce(0) { $0 + ($1.kind == .normal ? $1.sizeBytes : 0) }
        uncommittedBytes = max(0, uncommittedBytes - committedBytes)
        log.commit(to: quorumMatch)
        reads.markCommittedInTerm()
        if isSingleNode { confirmReadsIfSingle() }
        broadcastAppend(sendIfEmpty: true)
        pruneRemovedProgress()
        maybeStepDownAfterRemoval()
        return true
    }

    mutating func broadcastAppend(sendIfEmpty: Bool) {
        for id in otherPeers {
            if configuration.role(of: id) == .witness {
                sendWitnessAppend(sendIfEmpty: sendIfEmpty)
                continue
            }
            if sendIfEmpty { sendAppend(to: id, sendIfEmpty: true) }
            sendAppends(to: id)
        }
    }

    /// Sends one append to `id` from its next index; returns whether a message went out. A
    /// witness gets the leader's durable log end instead, and only while engaged.
    @discardableResult
    mutating func sendAppend(to id: NodeID, sendIfEmpty: Bool) -> Bool {
        if configuration.role(of: id) == .witness { return sendWitnessAppend(sendIfEmpty: sendIfEmpty) }
        var pr = progress[id]!
        guard !pr.isPaused(inflightMax: config.inflightAppendsMax) else { return false }
        let prevIndex = pr.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            sendSnapshot(to: id)
            return true
        }
        let entries = log.slice(from: pr.next, maxCount: config.appendEntriesMax, maxBytes: config.appendBytesMax)
        if entries.isEmpty && !sendIfEmpty { return false }
        send(Message(kind: .appendEntries, from: config.id, to: id, term: term, logTerm: prevTerm,
                     index: prevIndex, entries: entries, commit: log.committed))
        pr.sentAppend(lastIndex: entries.last?.index, commit: log.committed)
        progress[id] = pr
        return true
    }

    /// The follower needs entries this log no longer holds: send the newest snapshot. The core
    /// sends its metadata; the host attaches the bytes of its newest snapshot.
    mutating func sendSnapshot(to id: NodeID) {
        guard let meta = snapshotMeta else { preconditionFailure("entries compacted without a snapshot") }
        send(Message(kind: .installSnapshot, from: config.id, to: id, term: term,
                     snapshot: Snapshot(meta: meta, data: [])))
        progress[id]!.becomeSnapshot(index: meta.index)
    }

    mutating func broadcastHeartbeat() {
        let round = reads.lastRoundSent
        for id in otherPeers {
            let commit = configuration.role(of: id) == .witness ? 0 : min(progress[id]!.match, log.committed)
            send(Message(kind: .heartbeat, from: config.id, to: id, term: term, commit: commit, context: round))
        }
    }

    // MARK: - ReadIndex

    mutating func handleReadAck(from id: NodeID, round: UInt64) {
        let configuration = configuration
        let selfID = config.id
        let confirmed = reads.acknowledge(round: round, from: id) { acks in configuration.isQuorum(acks + [selfID]) }
        readStates.append(contentsOf: confirmed)
    }

    mutating func confirmReadsIfSingle() {
        guard reads.isCommittedInTerm else { return }
        readStates.append(contentsOf: reads.confirmAllUnsent(index: log.committed))
    }
}

/// Reads waiting for a leader's confirmation. Reads that arrive while a heartbeat round is in
/// flight wait for the next round, so many reads share one round.
struct ReadQueue: Sendable {
    struct Round: Sendable {
        var number: UInt64
        var index: UInt64
        var requestIDs: [UInt64]
        var acks: Set<NodeID> = []
    }

    /// Whether the leader has committed an entry of its term (reads wait until it has).
    private(set) var isCommittedInTerm = false
    private var unsent: [UInt64] = []
    private var rounds: [Round] = []
    private(set) var lastRoundSent: UInt64 = 0
    private var nextRoundNumber: UInt64 = 1

    var count: Int { unsent.count + rounds.reduce(0) { $0 + $1.requestIDs.count } }
    var hasUnsent: Bool { isCommittedInTerm && !unsent.isEmpty }
    var hasRoundInFlight: Bool { !rounds.isEmpty }

    mutating func add(_ requestID: UInt64, isCommittedInTerm committedInTerm: Bool) {
        if committedInTerm { isCommittedInTerm = true }
        unsent.append(requestID)
    }

    mutating func markCommittedInTerm() { isCommittedInTerm = true }

    mutating func startRound(index: UInt64) {
        rounds.append(Round(number: nextRoundNumber, index: index, requestIDs: unsent))
        lastRoundSent = nextRoundNumber
        nextRoundNumber += 1
        unsent.removeAll()
    }

    /// Records an acknowledgement of `round` (and so of every earlier round); returns the reads
    /// that `isQuorum` (given the acknowledging ids, the leader's own added by the caller) now
    /// confirms.
    mutating func acknowledge(round: UInt64, from id: NodeID, isQuorum: ([NodeID]) -> Bool) -> [ReadState] {
        var confirmedThrough = -1
        for i in rounds.indices where rounds[i].number <= round {
            rounds[i].acks.insert(id)
            if isQuorum(Array(rounds[i].acks)) { confirmedThrough = i }
        }
        guard confirmedThrough >= 0 else { return [] }
        var states: [ReadState] = []
        for round in rounds[...confirmedThrough] {
            states.append(contentsOf: round.requestIDs.map { ReadState(requestID: $0, index: round.index) })
        }
        rounds.removeSubrange(...confirmedThrough)
        return states
    }

    mutating func confirmAllUnsent(index: UInt64) -> [ReadState] {
        defer { unsent.removeAll() }
        return unsent.map { ReadState(requestID: $0, index: index) }
    }

    /// Empties the queue (leadership lost), returning every waiting read's id.
    mutating func removeAll() -> [UInt64] {
        let ids = unsent + rounds.flatMap(\.requestIDs)
        self = ReadQueue()
        // Round numbers only grow, so an old acknowledgement can never confirm a new round.
        return ids
    }
}

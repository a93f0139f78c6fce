/// The witness role, on both sides (docs/witness.md has the safety argument).
///
/// A witness keeps three things: its term, its vote and its commit mark, the highest log
/// position (term, index) it has acknowledged to a leader. It grants a vote only to a
/// candidate whose last log position is at least the mark, never campaigns and holds no
/// entries. A leader tells it only its durable log end (`witnessAppend`), and only while the
/// witness is engaged: while the full voters the leader hears from are not a quorum by
/// themselves. Only then do the witness's acknowledgements count toward commit.
extension RaftNode {
    // MARK: - On the witness

    /// Takes the leader's durable log end into the mark and acknowledges it. The mark only
    /// grows (in log order), and `ready()` makes it durable before the answer leaves.
    mutating func handleWitnessAppend(_ m: Message) {
        let end = LogMark(term: m.logTerm, index: m.index)
        if end > witnessMark { witnessMark = end }
        send(Message(kind: .appendResponse, from: config.id, to: m.from, term: term, index: m.index))
    }

    // MARK: - On the leader

    /// Engages the witness when the full voters heard from within `witnessEngageTicks` (this
    /// node included, if it is one) are not a quorum but would be with the witness; releases
    /// it when they are a quorum again (its mark then stops growing, so a caught-up full voter
    /// can still be elected with its vote).
    mutating func updateWitnessEngagement() {
        guard role == .leader, let witness = configuration.witnessID, progress[witness] != nil else {
            isWitnessEngaged = false
            return
        }
        let reachable = configuration.fullVoterIDs.filter { id in
            id == config.id || progress[id].map { $0.ticksSinceHeard < config.effectiveWitnessEngageTicks } ?? false
        }.count
        let isNeeded = reachable < quorum && reachable + 1 >= quorum
        guard isNeeded != isWitnessEngaged else { return }
        isWitnessEngaged = isNeeded
        if isNeeded {
            sendWitnessAppend(sendIfEmpty: true)
            maybeCommitAndBroadcast() // acknowledgements it already gave in this term may commit now
        }
    }

    /// Sends the engaged witness this leader's durable log end (never more: a mark beyond what
    /// survives a crash of the leader would refuse every candidate forever). Returns whether a
    /// message went out.
    @discardableResult
    mutating func sendWitnessAppend(sendIfEmpty: Bool) -> Bool {
        guard isWitnessEngaged, let witness = configuration.witnessID, progress[witness] != nil else { return false }
        let end = log.stable
        guard sendIfEmpty || end > progress[witness]!.sentMarkIndex, let endTerm = log.term(at: end) else { return false }
        send(Message(kind: .witnessAppend, from: config.id, to: witness, term: term, logTerm: endTerm, index: end))
        progress[witness]!.sentMarkIndex = end
        return true
    }

    /// A witness's answers: acknowledgements move its match (counted only while engaged);
    /// heartbeat answers show a lost mark, prompt a resend and confirm reads (a witness in
    /// this term has voted for no newer leader, so it counts toward read quorums).
    mutating func stepWitnessResponse(_ m: Message) {
        switch m.kind {
        case .appendResponse where !m.reject:
            if progress[m.from]!.maybeUpdate(m.index), isWitnessEngaged { maybeCommitAndBroadcast() }
        case .heartbeatResponse:
            if m.index < progress[m.from]!.match { progress[m.from]!.match = 0 } // it lost its mark
            if progress[m.from]!.match < log.stable { sendWitnessAppend(sendIfEmpty: true) }
            if m.context != 0 { handleReadAck(from: m.from, round: m.context) }
        default:
            break
        }
    }
}

/// A one-line picture of a node's Raft state, for failure reports and traces.
extension RaftNode {
    /// Role, term, log positions and, on a leader, each follower's replication state
    /// (`id:state next/match`, with the snapshot waited for and the appends in flight).
    public var stateSummary: String {
        var text = "\(role) term=\(term) vote=\(vote) leader=\(leader) last=\(log.lastIndex)/\(log.lastTerm) "
            + "commit=\(log.committed) applied=\(log.applied) snapshot=\(snapshotMeta?.index ?? 0)"
        if witnessMark != .zero { text += " mark=\(witnessMark.index)/\(witnessMark.term)" }
        guard role == .leader else { return text }
        text += " engaged=\(isWitnessEngaged)"
        for id in progress.keys.sorted() {
            let p = progress[id]!
            text += " [\(id):\(p.state) next=\(p.next) match=\(p.match)"
            if p.state == .snapshot { text += " pending=\(p.pendingSnapshotIndex) ticks=\(p.ticksInSnapshot)" }
            if !p.inflight.isEmpty { text += " inflight=\(p.inflight.count)" }
            if p.isProbeSent { text += " probeSent" }
            text += " heard=\(p.ticksSinceHeard)]"
        }
        return text
    }
}

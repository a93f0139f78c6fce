import Consensus
import TrackerHosting

/// The membership ambush: the history of Ongaro's 2015 correction, as a fault pattern the
/// driver sets up now and then (as `cutNewLeader` sets up Figure 8). With four voters
/// {L1, a, b, c}: leader L1 is asked to remove c and cut off at once (its entry reaches
/// nobody). When another tracker L2 wins, it loses its link to a voter x of {a, b} for a
/// while and is soon asked to remove L1; a moment later {L1, x} are put together, apart from
/// the rest. A correct leader refuses the removal until an entry of its term commits (it
/// cannot: three of the four voters are needed), so nothing happens; one that accepts it
/// commits it under {a, b, c} without x, and L1 then wins under its own {L1, a, b} with x
/// and overwrites it.
extension Simulation {
    /// On a periodic change: a quarter of the times the leader has exactly four voters,
    /// the removal to ask for (the ambush is then armed; the caller cuts the leader off).
    func armAmbush(leader: Int, voters: [NodeID]) -> ConfigurationChange? {
        guard membership.ambush == nil, voters.count == 4, chance(0.25) else { return nil }
        guard let removed = voters.filter({ Int($0) - 1 != leader }).randomElement(using: &random) else { return nil }
        membership.ambush = (leader, Int(removed) - 1)
        coverage.add("membership ambush armed")
        return .remove(id: removed)
    }

    /// A new leader other than the ambushed one: cut its link to a voter x that the old
    /// leader's configuration keeps, ask it for a change soon, and join x with the old leader.
    func springAmbush(_ index: Int, host: TrackerHost, _ ambush: (oldLeader: Int, removed: Int)) {
        membership.ambush = nil
        let voters = host.raft.configuration.members.filter { $0.role == .voter }.map { Int($0.id) - 1 }
        let candidates = voters.filter { $0 != index && $0 != ambush.oldLeader && $0 != ambush.removed && nodes.indices.contains($0) }
        guard voters.contains(ambush.oldLeader), let x = candidates.randomElement(using: &random) else { return }
        coverage.add("membership ambush sprung")
        cutOneWay(from: index, to: x)
        queue.schedule(.unclog(from: index, to: x), atMicros: nowMicros + UInt64.random(in: 500...2_000, using: &random) * 1_000)
        queue.schedule(.membershipChange(isPeriodic: false), atMicros: nowMicros + UInt64.random(in: 5_000...50_000, using: &random))
        let join = nowMicros + UInt64.random(in: 100...400, using: &random) * 1_000
        queue.schedule(.membershipAmbush(oldLeader: ambush.oldLeader, voter: x), atMicros: join)
    }

    /// The old leader and x together, apart from every other tracker.
    func joinAmbush(oldLeader: Int, voter: Int) {
        guard healedAtMicros == nil else { return }
        healNetwork()
        partition([oldLeader, voter])
    }
}

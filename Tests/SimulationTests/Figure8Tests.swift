import SimNet
import Testing

/// Figure 8 of the Raft paper, scripted over five real `TrackerHost`s: an entry of an old term
/// that a later leader replicates to a majority must not be committed by counting replicas,
/// because a leader that lacks it can still be elected and overwrite it.
@Suite("Figure 8 of the Raft paper")
struct Figure8Tests {
    /// Five trackers, no clients (the log holds only the leaders' no-op entries), one entry per
    /// append so a lagging follower gets the old entry before the new leader's own.
    static func makeFigure8() -> Simulation {
        var options = SimOptions()
        options.nodeCount = 5
        options.clientCount = 0
        options.isFaultInjectionOn = false
        options.isClientLoadOn = false
        options.appendEntriesMax = 1
        options.snapshotThresholdEntries = 10_000
        return Simulation(seed: 8, options: options)
    }

    static func leads(_ sim: Simulation, _ index: Int, above term: UInt64) -> Bool {
        sim.isUp(index) && sim.host(index).raft.role == .leader && sim.host(index).raft.term > term
    }

    static func match(_ sim: Simulation, leader: Int, of follower: Int) -> UInt64 {
        sim.host(leader).raft.matchIndexes.first { $0.id == UInt64(follower + 1) }?.match ?? 0
    }

    @Test("an old-term entry replicated to a majority is not committed; a leader without it overwrites it; replicas converge")
    func figure8() throws {
        let sim = Self.makeFigure8()
        // (a) S1 leads term t1; its entry 1 reaches S2 only (cut the moment S1 is elected).
        #expect(sim.runUntil(maxMillis: 2_000) { $0.leaderIndex != nil })
        let s1 = try #require(sim.leaderIndex)
        let t1 = sim.host(s1).raft.term
        let s2 = (s1 + 1) % 5
        sim.partition([s1, s2])
        // (b) S3-S5 elect S5 in term t5; its entry 1 stays on S5 alone (cut, then crash).
        let rest = (0..<5).filter { $0 != s1 && $0 != s2 }
        #expect(sim.runUntil(maxMillis: 3_000) { sim in rest.contains { Self.leads(sim, $0, above: t1) } })
        let s5 = try #require(rest.first { Self.leads(sim, $0, above: t1) })
        let t5 = sim.host(s5).raft.term
        sim.isolate(s5)
        sim.crash(s5)
        // Messages S5 sent before the cut are still in flight: let the cut drop them.
        sim.run(untilMillis: sim.nowMillis + 10)
        #expect(sim.host(s2).raft.term(at: 1) == t1)
        #expect(sim.diskState(s5).entries.map(\.term) == [t5])
        // (c) S1 or S2 (call it W) leads term tc with S3's vote; S4 stays cut off. W's own no-op
        // (entry 2) reaches its peer P; then W copies the old entry 1 to S3, a majority: W, P, S3.
        let (s3, s4) = (rest.filter { $0 != s5 }[0], rest.filter { $0 != s5 }[1])
        sim.healNetwork()
        sim.isolate(s4)
        #expect(sim.runUntil(maxMillis: 5_000) { sim in [s1, s2].contains { Self.leads(sim, $0, above: t5) } })
        let w = try #require([s1, s2].first { Self.leads(sim, $0, above: t5) })
        let peer = w == s1 ? s2 : s1
        sim.cutOneWay(from: w, to: s3)
        #expect(sim.runUntil(maxMillis: 100) { Self.match($0, leader: w, of: peer) >= 1 })
        sim.healNetwork()
        sim.isolate(s4)
        #expect(sim.runUntil(maxMillis: 200) { Self.match($0, leader: w, of: s3) >= 1 })
        #expect(sim.host(s3).raft.lastIndex == 1 && sim.host(s3).raft.term(at: 1) == t1)
        // The old entry is on a majority, the leader's own is not: nothing may be committed.
        #expect(sim.host(w).raft.commitIndex == 0, "leader of term \(sim.host(w).raft.term) committed the term-\(t1) entry by counting")
        sim.isolate(w)
        sim.crash(w)
        sim.run(untilMillis: sim.nowMillis + 10)
        // (d) S5 restarts; with S3 and S4 it is elected (its last term t5 beats their t1) and
        // overwrites entry 1.
        sim.healNetwork()
        sim.isolate(peer)
        sim.restart(s5)
        #expect(sim.runUntil(maxMillis: 5_000) { Self.leads($0, s5, above: t5) })
        sim.run(untilMillis: sim.nowMillis + 500)
        #expect(sim.host(s3).raft.term(at: 1) == t5)
        #expect(sim.committedTerm(at: 1) == t5, "entry 1 was committed as term \(sim.committedTerm(at: 1) ?? 0)")
        // Everyone back: the old-term entry is gone everywhere and the replicas converge.
        sim.restart(w)
        #expect(sim.finishScenario())
        for index in 0..<5 { #expect(sim.host(index).raft.term(at: 1) == t5, "tracker \(index + 1)") }
        expectNoViolation(sim)
    }
}

import SimNet
import Testing

/// Named snapshot scenarios over the real TrackerHost (Raft §7): crashes while a snapshot is
/// written, catch-up by InstallSnapshot across a leader change, a tracker that lost its disk.
/// The checkers run throughout.
@Suite("Snapshot scenarios")
struct SnapshotScenarioTests {
    /// Snapshots every 25 applied entries (5 kept in the log), so a few seconds of client load
    /// compact the log several times.
    static func makeSnapshotScenario(seed: UInt64) -> Simulation {
        var options = SimOptions()
        options.isFaultInjectionOn = false
        options.snapshotThresholdEntries = 25
        return Simulation(seed: seed, options: options)
    }

    @Test("a crash while a snapshot is written: the node restarts from the snapshot the disk kept plus its log, and catches up",
          arguments: [false, true])
    func crashWhileWritingSnapshot(isRenamed: Bool) throws {
        let sim = Self.makeSnapshotScenario(seed: isRenamed ? 22 : 21)
        let leader = try #require(sim.runUntilLeader(maxMillis: 2_000))
        let follower = (leader + 1) % 3
        #expect(sim.runUntil(maxMillis: 10_000) { $0.snapshotsTaken(follower) >= 1 })
        let previous = try #require(sim.diskState(follower).snapshot?.meta)
        sim.crashDuringNextSnapshot(follower, isRenamed: isRenamed)
        #expect(sim.runUntil(maxMillis: 10_000) { !$0.isUp(follower) })
        let torn = try #require(sim.tornSnapshotIndex(follower))
        #expect(torn > previous.index)
        let disk = sim.diskState(follower)
        let kept = try #require(disk.snapshot?.meta)
        #expect(kept.index == (isRenamed ? torn : previous.index))
        // The log on disk continues the kept snapshot and still holds what the torn one covered.
        #expect(disk.entries.first.map { $0.index == kept.index + 1 } ?? true)
        #expect(kept.index + UInt64(disk.entries.count) >= torn)
        sim.run(untilMillis: sim.nowMillis + 500)
        // The restart loads exactly that (its first drain may apply and snapshot again at once);
        // the checkers compare every entry it re-applies from its log with the cluster's.
        sim.restart(follower)
        #expect((sim.host(follower).raft.snapshotMeta?.index ?? 0) >= kept.index)
        #expect(sim.runUntil(maxMillis: 2_000) { $0.host(follower).raft.appliedIndex > torn })
        #expect(sim.finishScenario())
        expectNoViolation(sim)
    }

    @Test("a follower behind the compaction point catches up by InstallSnapshot while the leader changes")
    func catchUpBySnapshotAcrossLeaderChange() throws {
        let sim = Self.makeSnapshotScenario(seed: 23)
        let leader = try #require(sim.runUntilLeader(maxMillis: 2_000))
        sim.run(untilMillis: 1_000)
        let follower = (leader + 1) % 3
        let other = (leader + 2) % 3
        sim.isolate(follower)
        sim.run(untilMillis: sim.nowMillis + 4_000)
        // The leader no longer holds the entry after the follower's last one: only a snapshot helps.
        let behind = sim.host(follower).raft.lastIndex
        #expect(sim.host(leader).raft.term(at: behind + 1) == nil)
        #expect(sim.host(leader).raft.commitIndex > behind + 50)
        let oldTerm = sim.host(leader).raft.term
        sim.healNetwork()
        // The moment the leader sends its snapshot, it is cut off (the snapshot is lost) and crashes.
        #expect(sim.runUntil(maxMillis: 2_000) { $0.snapshotsSent(leader) >= 1 })
        #expect(sim.snapshotsInstalled(follower) == 0)
        sim.isolate(leader)
        sim.crash(leader)
        let newLeader = try #require(sim.runUntilLeader(maxMillis: 1_000))
        #expect(newLeader == other, "the lagging follower cannot win")
        #expect(sim.host(newLeader).raft.term > oldTerm)
        sim.run(untilMillis: sim.nowMillis + 2_000)
        #expect(sim.snapshotsSent(other) >= 1)
        #expect(sim.snapshotsInstalled(follower) >= 1)
        #expect(sim.host(follower).raft.appliedIndex > behind + 50)
        sim.healNetwork()
        sim.restart(leader)
        #expect(sim.finishScenario())
        expectNoViolation(sim)
    }

    @Test("a wiped tracker (empty disk) rejoins, installs a snapshot and converges")
    func wipedTrackerRejoins() throws {
        let sim = Self.makeSnapshotScenario(seed: 24)
        let leader = try #require(sim.runUntilLeader(maxMillis: 2_000))
        sim.run(untilMillis: 4_000)
        let follower = (leader + 1) % 3
        #expect(sim.host(leader).raft.term(at: 1) == nil, "the leader's log is compacted")
        sim.wipe(follower)
        #expect(sim.diskState(follower).entries.isEmpty && sim.diskState(follower).snapshot == nil)
        sim.run(untilMillis: sim.nowMillis + 500)
        sim.restart(follower)
        #expect(sim.host(follower).raft.lastIndex == 0)
        sim.run(untilMillis: sim.nowMillis + 2_000)
        #expect(sim.snapshotsInstalled(follower) >= 1)
        #expect(sim.host(follower).raft.appliedIndex + 30 > sim.host(leader).raft.commitIndex)
        #expect(sim.finishScenario())
        expectNoViolation(sim)
    }
}

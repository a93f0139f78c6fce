import Testing
@testable import Consensus

@Suite("Log replication")
struct ReplicationTests {
    @Test("proposals commit on a quorum and every node applies them in order")
    func commitAndApplyInOrder() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        for i in 0..<20 { _ = try net.propose(1, "cmd\(i)") }
        net.stabilize()
        let expected = (0..<20).map { "cmd\($0)" }
        net.tickAll(times: 6) // heartbeats carry the final commit index to followers
        for id in net.ids { #expect(net.appliedData(id) == expected) }
    }

    @Test("a follower rejects AppendEntries whose previous entry has another term")
    func rejectsMismatchedPrevTerm() throws {
        var node = try RaftNode(config: RaftConfig(id: 2, peers: [1, 2, 3]), persisted: PersistedState(
            hardState: HardState(term: 2), entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)]))
        node.step(Message(kind: .appendEntries, from: 1, to: 2, term: 3, logTerm: 3, index: 2,
                          entries: [Entry(term: 3, index: 3)]))
        let rd = node.ready()
        let response = try #require(rd.messages.first)
        #expect(response.kind == .appendResponse && response.reject)
        #expect(rd.entries.isEmpty)
        #expect(node.lastIndex == 2)
        node.advance()
    }

    @Test("a conflicting uncommitted suffix is truncated and replaced by the leader's")
    func truncatesConflictingSuffix() throws {
        var node = try RaftNode(config: RaftConfig(id: 2, peers: [1, 2, 3]), persisted: PersistedState(
            hardState: HardState(term: 2, commit: 1),
            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2), Entry(term: 2, index: 3)]))
        node.step(Message(kind: .appendEntries, from: 1, to: 2, term: 3, logTerm: 1, index: 1,
                          entries: [Entry(term: 3, index: 2)], commit: 1))
        let rd = node.ready()
        #expect(rd.entries == [Entry(term: 3, index: 2)])
        #expect(node.lastIndex == 2 && node.lastTerm == 3)
        node.advance()
        node.checkInvariants()
    }

    @Test("a committed entry is never truncated: a conflicting append below commit is answered, not applied")
    func neverTruncatesCommitted() throws {
        var node = try RaftNode(config: RaftConfig(id: 2, peers: [1, 2, 3]), persisted: PersistedState(
            hardState: HardState(term: 2, commit: 2),
            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)]))
        node.step(Message(kind: .appendEntries, from: 1, to: 2, term: 3, logTerm: 0, index: 0,
                          entries: [Entry(term: 3, index: 1)], commit: 2))
        let rd = node.ready()
        #expect(rd.entries.isEmpty)
        #expect(node.term(at: 1) == 1 && node.term(at: 2) == 2)
        #expect(rd.messages.first?.index == 2 && rd.messages.first?.reject == false)
        node.advance()
    }

    @Test("Figure 8: an old-term entry is not committed by counting replicas")
    func figureEight() throws {
        // Leader 1 in term 3 holds an entry of term 2 at index 2 that a majority also holds.
        let entries = [Entry(term: 1, index: 1), Entry(term: 2, index: 2)]
        var config = RaftConfig(id: 1, peers: [1, 2, 3])
        config.isPreVoteEnabled = false
        var leader = try RaftNode(config: config, persisted: PersistedState(hardState: HardState(term: 2, commit: 1), entries: entries))
        leader.becomeCandidate()
        leader.poll(1, granted: true)
        leader.poll(2, granted: true)
        #expect(leader.role == .leader)
        let term = leader.term
        _ = leader.ready(); leader.advance()
        // Follower 2 acknowledges index 2 only (not the new no-op at index 3).
        leader.step(Message(kind: .appendResponse, from: 2, to: 1, term: term, index: 2))
        #expect(leader.commitIndex == 1, "index 2 is from term 2; counting replicas must not commit it")
        // Once the no-op of the current term is on a quorum, both commit.
        leader.step(Message(kind: .appendResponse, from: 2, to: 1, term: term, index: 3))
        #expect(leader.commitIndex == 3)
    }

    @Test("fast backtracking: a divergent follower is repaired with one probe per conflicting term, not per entry")
    func fastBacktracking() throws {
        // Figure 7 (f) of the Raft paper, stretched: the follower holds 60 stale entries of
        // terms 2 and 3 that the leader (terms 4 to 6) does not.
        let leaderTerms: [UInt64] = [1, 1, 1] + Array(repeating: 4, count: 20) + Array(repeating: 5, count: 20) + Array(repeating: 6, count: 20)
        let staleTerms: [UInt64] = [1, 1, 1] + Array(repeating: 2, count: 30) + Array(repeating: 3, count: 30)
        var net = TestNetwork(logs: [leaderTerms, leaderTerms, staleTerms])
        net.campaign(1)
        #expect(net.node(1).role == .leader)
        let rejections = net.sent.filter { $0.kind == .appendResponse && $0.from == 3 && $0.reject }
        #expect(rejections.count <= 2, "one entry at a time would take 60")
        net.tickAll(times: 6)
        #expect(net.node(3).lastIndex == net.node(1).lastIndex)
        #expect(net.node(3).term(at: 10) == 4)
        #expect(net.applied[3]!.map(\.term) == net.applied[1]!.map(\.term))
    }

    @Test("many proposals between batches travel in one append message")
    func proposalsAreBatched() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.sent.removeAll()
        for i in 0..<100 { _ = try net.propose(1, "b\(i)") }
        net.drainReady()
        let appends = net.sent.filter { $0.kind == .appendEntries && $0.to == 2 }
        #expect(appends.count == 1)
        #expect(appends.first?.entries.count == 100)
    }

    @Test("appends to a follower are pipelined but never more than the in-flight limit")
    func inflightBounded() throws {
        var net = TestNetwork(size: 3) { $0.inflightAppendsMax = 4; $0.appendEntriesMax = 2 }
        net.campaign(1)
        net.drop(.appendResponse)
        net.sent.removeAll()
        for i in 0..<40 { _ = try net.propose(1, "p\(i)") }
        net.stabilize()
        let appends = net.sent.filter { $0.kind == .appendEntries && $0.to == 2 && !$0.entries.isEmpty }
        #expect(appends.count == 4, "four appends of two entries in flight, then the leader waits")
        #expect(appends.allSatisfy { $0.entries.count <= 2 })
        net.heal()
        net.tickAll(times: 10)
        #expect(net.appliedData(2).count == 40)
    }

    @Test("proposals beyond the uncommitted-bytes limit are refused, then accepted once committed")
    func uncommittedBytesLimit() throws {
        var net = TestNetwork(size: 3) { $0.uncommittedBytesMax = 200 }
        net.campaign(1)
        net.isolate(1)
        var refused = false
        for i in 0..<20 {
            do { _ = try net.propose(1, "payload-\(i)") } catch { refused = (error == .uncommittedBytesExceeded); break }
        }
        #expect(refused)
        net.heal()
        net.stabilize()
        #expect(throws: Never.self) { _ = try net.propose(1, "after") }
    }

    @Test("only a leader accepts proposals, and it names the leader it knows")
    func followerRefusesProposal() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        #expect(throws: ProposalError.notLeader(leader: 1)) { _ = try net.propose(2, "x") }
    }

    @Test("hard state and log survive a restart, and committed entries are applied again from storage")
    func survivesRestart() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        for i in 0..<5 { _ = try net.propose(1, "r\(i)") }
        net.stabilize()
        net.tickAll(times: 6)
        let before = net.node(2)
        net.restart(2)
        #expect(net.node(2).term == before.term)
        #expect(net.node(2).vote == before.vote)
        #expect(net.node(2).lastIndex == before.lastIndex)
        #expect(net.node(2).commitIndex == before.commitIndex)
        net.drainReady()
        #expect(net.appliedData(2) == (0..<5).map { "r\($0)" })
    }

    @Test("a follower that lost its whole log (a wiped disk) is caught up again from the start")
    func wipedFollowerCaughtUp() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        for i in 0..<10 { _ = try net.propose(1, "w\(i)") }
        net.stabilize()
        net.tickAll(times: 6)
        let config = net.node(3).config
        net.storages[3] = MemoryStorage()
        net.nodes[3] = try RaftNode(config: config, persisted: PersistedState())
        net.applied[3] = []
        net.tickAll(times: 2 * config.heartbeatTicks)
        #expect(net.node(3).lastIndex == net.node(1).lastIndex)
        #expect(net.appliedData(3) == (0..<10).map { "w\($0)" })
    }

    @Test("after a heartbeat answer shows a shorter log than the follower acknowledged, none of what it holds counts as matching until a probe verifies it")
    func shorterLogAnswerIsNotTrusted() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        for i in 0..<10 { _ = try net.propose(1, "w\(i)") }
        net.stabilize()
        let config = net.node(3).config
        #expect(net.node(1).matchIndexes.first { $0.id == 3 }?.match == net.node(1).lastIndex)
        // Node 3 comes back holding only the first five entries (its disk lost the rest).
        let kept = Array(try net.storages[3]!.load().entries.prefix(5))
        net.storages[3] = MemoryStorage()
        try net.storages[3]!.save(hardState: HardState(term: net.node(1).term), entries: kept, mustSync: true)
        net.nodes[3] = try RaftNode(config: config, persisted: try net.storages[3]!.load())
        net.applied[3] = []
        net.drop(.appendEntries)
        net.tickAll(times: config.heartbeatTicks)
        #expect(net.node(1).matchIndexes.first { $0.id == 3 }?.match == 0, "what node 3 still holds is not counted as matching")
        net.heal()
        net.tickAll(times: 2 * config.heartbeatTicks)
        #expect(net.node(1).matchIndexes.first { $0.id == 3 }?.match == net.node(1).lastIndex, "a probe verified it again")
        #expect(net.appliedData(3) == (0..<10).map { "w\($0)" })
    }

    @Test("a configuration with an impossible limit is refused at start")
    func limitsValidated() {
        var config = RaftConfig(id: 1, peers: [1, 2, 3])
        config.inflightAppendsMax = 0
        #expect(throws: ConfigError.self) { _ = try RaftNode(config: config, persisted: PersistedState()) }
        var config2 = RaftConfig(id: 4, peers: [1, 2, 3])
        config2.heartbeatTicks = 1
        #expect(throws: ConfigError.self) { _ = try RaftNode(config: config2, persisted: PersistedState()) }
        var config3 = RaftConfig(id: 1, peers: [1, 2])
        config3.electionTimeoutTicks = config3.heartbeatTicks
        #expect(throws: ConfigError.self) { _ = try RaftNode(config: config3, persisted: PersistedState()) }
    }
}

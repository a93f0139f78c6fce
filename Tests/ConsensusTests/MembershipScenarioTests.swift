import Testing
@testable import Consensus

/// Membership changes as whole histories: Ongaro's 2015 counterexample, removals, a member
/// that comes back after its removal, growing and shrinking, snapshots and restarts.
@Suite("Membership: scenarios")
struct MembershipScenarioTests {
    /// Ongaro's 2015 history (raft-dev, "bug in single-server membership changes") on voters
    /// {1, 2, 3, 4} and learner 5: leader 1 appends the promotion of 5 in term 1, which reaches
    /// only 5, and crashes; 2 is elected in term 2 by 3 and 4, and loses 4 (and 5, which its
    /// configuration does not count) at once, so its no-op cannot commit under {1, 2, 3, 4}.
    static func stage2015() -> TestNetwork {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3, 4], learners: [5]))
        net.elect(1)
        net.cut(1, 2)
        net.cut(1, 3)
        net.cut(1, 4)
        _ = try! net.change(1, .promote(id: 5)) // {1, 2, 3, 4, 5}, on 1 and 5 only
        net.stabilize()
        net.isolate(1)
        net.restart(1) // it crashed: it comes back a follower, with its log
        net.drop(.appendEntries)
        net.nodes[2]!.campaign(isTransfer: true)
        net.stabilize()
        precondition(net.node(2).role == .leader && net.node(2).term == 2)
        net.cut(2, 4)
        net.cut(2, 5)
        net.droppedKinds.remove(.appendEntries)
        net.tick(2, times: net.node(2).config.heartbeatTicks) // the no-op reaches 3, not 4
        net.stabilize()
        return net
    }

    /// 1 comes back: cut off from 2 and 3, it is elected by 4 and 5 (its log is longer than
    /// 4's, in the same last term), commits, and then reaches everyone.
    static func returnOfNodeOne(_ net: inout TestNetwork) {
        net.heal()
        net.isolate(2)
        net.isolate(3)
        for _ in 0..<3 where net.node(1).role != .leader {
            net.nodes[1]!.campaign(isTransfer: true)
            net.stabilize()
        }
        precondition(net.node(1).role == .leader, "1 was not elected")
        net.heal()
        net.tickAll(times: 2 * net.node(1).config.heartbeatTicks)
    }

    @Test("Ongaro 2015: a new leader may not change the configuration before committing in its term, and nothing is lost")
    func bug2015Prevented() {
        var net = Self.stage2015()
        #expect(!net.node(2).hasCommittedInTerm)
        #expect(MembershipRuleTests.refusal(&net, 2, .remove(id: 4)) == .notCommittedInTerm)
        let committedBefore = net.ids.map { net.applied[$0]! }
        Self.returnOfNodeOne(&net)
        #expect(net.appliedConflicts == [])
        #expect(net.node(1).configuration.fullVoterIDs == [1, 2, 3, 4, 5] && net.node(2).configuration == net.node(1).configuration)
        for (position, id) in net.ids.enumerated() {
            #expect(Array(net.applied[id]!.prefix(committedBefore[position].count)) == committedBefore[position])
        }
    }

    @Test("Ongaro 2015, with the rule bypassed: the same history loses a committed entry")
    func bug2015WithoutTheRule() {
        var net = Self.stage2015()
        // What a leader without the rule does: append the change before its no-op commits.
        let smaller = net.node(2).configuration.removing(4)
        net.nodes[2]!.appendToLeaderLog(Entry(term: 2, index: net.node(2).lastIndex + 1, kind: .configuration, data: smaller.encoded()))
        net.stabilize()
        #expect(net.node(2).commitIndex == 3 && net.node(3).commitIndex == 3, "committed by {2, 3}, a quorum of {1, 2, 3}")
        Self.returnOfNodeOne(&net)
        #expect(net.appliedConflicts == [2, 3], "the counterexample reaches its violation")
        let isOverwritten = net.node(1).role == .leader && net.node(1).term(at: 3) == 3
        #expect(isOverwritten, "the entry 2 and 3 committed at index 3 is not in the new leader's log")
    }

    @Test("removing a follower: the new configuration commits, and the leader no longer sends to it or counts it")
    func removeFollower() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.elect(1)
        let ticket = try net.change(1, .remove(id: 3))
        net.stabilize()
        for id in net.ids { #expect(net.node(id).configuration == .make(voters: [1, 2])) }
        #expect(net.node(1).commitIndex >= ticket.index && net.node(3).memberRole == nil)
        let mark = net.sent.count
        net.cut(1, 2)
        let after = try net.propose(1, "y")
        net.tickAll(times: 2 * net.node(1).config.heartbeatTicks)
        #expect(net.sentCount(to: 3, since: mark) == 0)
        #expect(net.node(1).commitIndex < after.index, "{1, 2} needs 2; 3 no longer counts")
        #expect(net.node(3).role == .follower && net.node(3).term == net.node(1).term, "a removed node does not campaign")
    }

    @Test("removing the leader: it leads until the removal commits without counting itself, then hands over and stays quiet")
    func removeLeader() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.elect(1)
        let term = net.node(1).term
        net.cut(1, 3)
        let ticket = try net.change(1, .remove(id: 1))
        net.stabilize()
        #expect(net.node(1).role == .leader && net.node(1).commitIndex < ticket.index, "{2, 3} must both hold it")
        net.heal()
        let heartbeat = net.node(1).config.heartbeatTicks
        let isHandedOver = net.tick(until: { $0.node(2).role == .leader || $0.node(3).role == .leader }, limit: heartbeat + 1)
        #expect(isHandedOver, "handed over by TimeoutNow, without waiting for an election timeout")
        let leader: NodeID = net.node(2).role == .leader ? 2 : 3
        #expect(net.node(leader).term == term + 1 && net.node(leader).commitIndex >= ticket.index)
        #expect(net.node(1).role == .follower && net.node(1).memberRole == nil)
        let mark = net.sent.count
        net.tickAll(times: 10 * net.node(1).config.electionTimeoutTicks)
        #expect(net.sent[mark...].allSatisfy { $0.from != 1 && $0.to != 1 }, "the removed leader neither campaigns nor is sent anything")
        #expect(net.node(leader).role == .leader && net.node(leader).term == term + 1)
    }

    @Test("a removed member that comes back with its old log is ignored: no term change, no leader change, its answers refused")
    func removedMemberComesBack() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.elect(1)
        net.isolate(3)
        let ticket = try net.change(1, .remove(id: 3))
        net.stabilize()
        #expect(net.node(1).commitIndex >= ticket.index && net.node(3).memberRole == .voter, "3 never saw its removal")
        let term = net.node(1).term
        let mark = net.sent.count
        net.heal()
        net.tickAll(times: 10 * net.node(3).config.electionTimeoutTicks)
        #expect(net.sent[mark...].contains { $0.from == 3 && $0.kind == .preVote }, "it tries")
        #expect(net.node(1).role == .leader && net.node(1).term == term && net.node(2).term == term)
        #expect(net.node(3).role != .leader && net.node(3).term == term)
        #expect(net.sentCount(to: 3, since: mark) == 0, "the members neither replicate to it nor answer it")
        net.nodes[1]!.step(Message(kind: .heartbeatResponse, from: 3, to: 1, term: term, index: 99))
        #expect(net.node(1).refusals.lastMessage == .answerFromNonMember)
    }

    @Test("3 → 5 → 3: learners added and promoted one at a time, quorums follow, then removed again")
    func growAndShrink() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4)
        net.addNode(5)
        net.elect(1)
        for id: NodeID in [4, 5] {
            _ = try net.change(1, .addLearner(id: id, address: "h:\(id)"))
            net.stabilize()
            _ = try net.change(1, .promote(id: id))
            net.stabilize()
        }
        for id in net.ids { #expect(net.node(id).configuration.fullVoterIDs == [1, 2, 3, 4, 5]) }
        net.cut(1, 2)
        net.cut(1, 3)
        let five = try net.propose(1, "five")
        net.stabilize()
        #expect(net.node(1).commitIndex >= five.index, "{1, 4, 5} is a quorum of five")
        net.cut(1, 4)
        let four = try net.propose(1, "four")
        net.stabilize()
        #expect(net.node(1).commitIndex < four.index, "{1, 5} is not")
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        for id: NodeID in [5, 4] {
            _ = try net.change(1, .remove(id: id))
            net.stabilize()
        }
        for id: NodeID in [1, 2, 3] { #expect(net.node(id).configuration == .make(voters: [1, 2, 3])) }
        #expect(net.node(1).configuration.quorum == 2 && !net.node(1).isConfigurationChangePending)
        #expect(net.appliedConflicts == [] && net.appliedData(2) == ["five", "four"])
    }

    @Test("the configuration lives in the snapshot: a node restarted from a compacted log keeps it")
    func configurationInSnapshot() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4)
        net.elect(1)
        _ = try net.change(1, .addLearner(id: 4, address: "h:4"))
        net.stabilize()
        _ = try net.change(1, .promote(id: 4))
        net.stabilize()
        _ = try net.propose(1, "after")
        net.stabilize()
        let expected = net.node(1).configuration
        net.takeSnapshot(4)
        #expect(net.snapshots[4]!.meta.configuration == expected)
        net.restart(4)
        #expect(try net.storages[4]!.load().entries.allSatisfy { $0.kind != .configuration }, "no configuration entry is left")
        #expect(net.node(4).configuration == expected && net.node(4).memberRole == .voter)
        #expect(net.node(4).snapshotMeta(at: net.node(4).appliedIndex)?.configuration == expected)
    }
}

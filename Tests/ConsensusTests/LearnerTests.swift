import Testing
@testable import Consensus

/// Learners: they receive the log and snapshots and the leader tracks them, but they never
/// count for commit, elections or quorum checks, and never campaign.
@Suite("Membership: learners")
struct LearnerTests {
    @Test("learners hold the entries, but a leader does not count them for commit")
    func notCountedForCommit() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3], learners: [4, 5]))
        net.elect(1)
        net.cut(1, 2)
        net.cut(1, 3)
        let ticket = try net.propose(1, "x")
        net.stabilize()
        let matches = net.node(1).matchIndexes
        #expect(matches.filter { [4, 5].contains($0.id) }.allSatisfy { $0.match == ticket.index }, "the leader tracks the learners")
        #expect(net.node(1).commitIndex < ticket.index, "three of five members hold it, but only one of three voters")
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        #expect(net.node(1).commitIndex >= ticket.index)
        #expect(net.appliedData(4) == ["x"] && net.appliedData(5) == ["x"])
    }

    @Test("a candidate asks only voters, and a learner's grant does not count")
    func notCountedForElections() {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3], learners: [4]))
        net.nodes[1]!.campaign(isTransfer: true) // a real vote, no pre-vote
        net.drainReady()
        #expect(net.sent.filter { $0.kind == .requestVote }.map(\.to).sorted() == [2, 3])
        let term = net.node(1).term
        net.nodes[1]!.step(Message(kind: .requestVoteResponse, from: 4, to: 1, term: term))
        #expect(net.node(1).role == .candidate, "one voter and a learner are not a majority of three voters")
        net.nodes[1]!.step(Message(kind: .requestVoteResponse, from: 2, to: 1, term: term))
        #expect(net.node(1).role == .leader)
    }

    @Test("a learner never campaigns, whatever its timer or a TimeoutNow says")
    func neverCampaigns() {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3], learners: [4]))
        net.isolate(4)
        net.tick(4, times: 20 * net.node(4).config.electionTimeoutTicks)
        net.nodes[4]!.step(Message(kind: .timeoutNow, from: 1, to: 4, term: 0))
        net.drainReady()
        #expect(net.node(4).role == .follower && net.node(4).term == 0 && net.node(4).vote == 0)
        #expect(net.sent.filter { $0.from == 4 }.isEmpty)
    }

    @Test("a leader that hears only learners steps down (check-quorum counts voters)")
    func notCountedForCheckQuorum() {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3], learners: [4, 5]))
        net.elect(1)
        net.cut(1, 2)
        net.cut(1, 3)
        for _ in 0..<(net.node(1).config.electionTimeoutTicks + 1) {
            net.tick(1)
            net.stabilize() // the learners answer every heartbeat
        }
        #expect(net.node(1).role == .follower)
    }

    @Test("a learner is promoted only once its log is within learnerPromotionLagMax of the leader's")
    func promotionWhenCaughtUp() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3], learners: [4])) { $0.learnerPromotionLagMax = 2 }
        net.elect(1)
        net.isolate(4)
        for i in 0..<5 { _ = try net.propose(1, "e\(i)") }
        net.stabilize()
        #expect(net.node(1).learnersReadyForPromotion.isEmpty)
        #expect(MembershipRuleTests.refusal(&net, 1, .promote(id: 4)) == .learnerNotCaughtUp)
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        #expect(net.node(1).learnersReadyForPromotion == [4])
        let ticket = try net.change(1, .promote(id: 4))
        net.stabilize()
        for id in net.ids { #expect(net.node(id).configuration.fullVoterIDs == [1, 2, 3, 4]) }
        #expect(net.node(1).commitIndex >= ticket.index)
        #expect(net.node(1).configuration.quorum == 3)
    }

    @Test("a learner promoted by an entry it has not received still votes, so the cluster can elect (etcd's case)")
    func promotedLearnerVotes() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2], learners: [3]))
        net.elect(1)
        net.cut(1, 3) // 3 is caught up and was just heard from, but will not see its promotion
        let ticket = try net.change(1, .promote(id: 3))
        net.stabilize()
        #expect(net.node(1).commitIndex >= ticket.index, "committed by {1, 2}, a quorum of {1, 2, 3}")
        #expect(net.node(3).memberRole == .learner)
        net.heal()
        net.isolate(1) // the leader dies: only 2 holds every committed entry, and it needs 3's vote
        let isElected = net.tick(until: { $0.node(2).role == .leader }, limit: 20 * net.node(2).config.electionTimeoutTicks)
        #expect(isElected)
        net.tickAll(times: net.node(2).config.heartbeatTicks)
        #expect(net.node(3).memberRole == .voter, "it learns its promotion from the new leader")
    }

    @Test("a learner added after the log was compacted is sent a snapshot, and applies what the voters applied")
    func learnerGetsSnapshot() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4)
        net.elect(1)
        for i in 0..<6 { _ = try net.propose(1, "s\(i)") }
        net.stabilize()
        net.takeSnapshot(1)
        _ = try net.change(1, .addLearner(id: 4, address: "h:4"))
        net.stabilize()
        #expect(net.sent.contains { $0.kind == .installSnapshot && $0.to == 4 })
        #expect(net.node(4).memberRole == .learner)
        #expect(net.appliedData(4) == net.appliedData(1))
        #expect(net.node(1).matchIndexes.first { $0.id == 4 }?.match == net.node(1).lastIndex)
    }
}

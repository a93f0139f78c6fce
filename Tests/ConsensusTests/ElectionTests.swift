import Testing
@testable import Consensus

@Suite("Elections")
struct ElectionTests {
    @Test("a three-node cluster elects exactly one leader, which appends a no-op of its term")
    func electsOneLeader() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        #expect(net.node(1).role == .leader)
        #expect(net.node(2).role == .follower && net.node(3).role == .follower)
        #expect(net.node(2).leader == 1 && net.node(3).leader == 1)
        let term = net.node(1).term
        for id in net.ids {
            let noop = try #require(net.applied[id]!.last)
            #expect(noop.kind == .noop && noop.term == term)
        }
    }

    @Test("election timeouts fire on their own and a leader emerges")
    func electsByTicking() {
        var net = TestNetwork(size: 5, seed: 7)
        net.tickAll(times: 60)
        let leaders = net.ids.filter { net.node($0).role == .leader }
        #expect(leaders.count == 1)
    }

    @Test("a candidate whose log is behind is denied votes (§5.4.1)")
    func staleCandidateDenied() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.isolate(3)
        _ = try net.propose(1, "x")
        net.stabilize()
        net.heal()
        // Node 3 missed "x": nodes 1 and 2 must refuse it even at a higher term.
        net.nodes[3]!.campaign(isTransfer: true) // skip pre-vote and lease: a real vote
        net.stabilize()
        #expect(net.node(3).role != .leader)
        let denials = net.sent.filter { $0.kind == .requestVoteResponse && $0.to == 3 && $0.reject }
        #expect(denials.count == 2)
    }

    @Test("a node grants at most one vote per term")
    func oneVotePerTerm() {
        var net = TestNetwork(size: 3)
        net.nodes[1]!.campaign(isTransfer: true)
        net.nodes[2]!.campaign(isTransfer: true)
        net.drainReady()
        // Both ask node 3 in the same term; only the first is granted.
        let toThree = net.inFlight.filter { $0.to == 3 && $0.kind == .requestVote }
        #expect(toThree.count == 2)
        for m in toThree { net.nodes[3]!.step(m) }
        net.drainReady()
        let answers = net.sent.filter { $0.from == 3 && $0.kind == .requestVoteResponse }
        #expect(answers.map(\.reject) == [false, true])
    }

    @Test("any node steps down to follower on seeing a higher term")
    func stepDownOnHigherTerm() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        let term = net.node(1).term
        net.nodes[1]!.step(Message(kind: .appendResponse, from: 2, to: 1, term: term + 5))
        #expect(net.node(1).role == .follower)
        #expect(net.node(1).term == term + 5)
        #expect(net.node(1).vote == 0)
    }

    @Test("the vote is persisted, with a sync, before the vote response is sent")
    func votePersistedBeforeResponse() {
        var net = TestNetwork(size: 3)
        net.nodes[1]!.campaign(isTransfer: true)
        net.drainReady()
        let request = net.inFlight.first { $0.to == 2 }!
        net.nodes[2]!.step(request)
        let rd = net.nodes[2]!.ready()
        #expect(rd.hardState?.vote == 1)
        #expect(rd.mustSync)
        #expect(rd.messages.contains { $0.kind == .requestVoteResponse && !$0.reject })
        net.nodes[2]!.advance()
    }

    @Test("randomized election timeouts rarely collide")
    func timeoutsRarelyCollide() {
        var collisions = 0
        let trials = 400
        for trial in 0..<trials {
            var a = RaftConfig(id: 1, peers: [1, 2])
            a.randomSeed = UInt64(trial) * 2 + 1
            var b = RaftConfig(id: 2, peers: [1, 2])
            b.randomSeed = UInt64(trial) * 2 + 2
            let n1 = try! RaftNode(config: a, persisted: PersistedState())
            let n2 = try! RaftNode(config: b, persisted: PersistedState())
            #expect((15..<30).contains(n1.randomizedElectionTimeout))
            if n1.randomizedElectionTimeout == n2.randomizedElectionTimeout { collisions += 1 }
        }
        // Uniform over 15 values: about 1 in 15 pairs collide; far more means no randomization.
        #expect(collisions < trials / 8)
    }
}

@Suite("Pre-vote and check-quorum")
struct PreVoteCheckQuorumTests {
    @Test("an isolated leader steps down within an election timeout (check-quorum)")
    func isolatedLeaderStepsDown() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.isolate(1)
        net.tick(1, times: net.node(1).config.electionTimeoutTicks)
        #expect(net.node(1).role == .follower)
    }

    @Test("a leader that hears from a quorum stays leader")
    func connectedLeaderStays() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.tickAll(times: 100)
        #expect(net.node(1).role == .leader)
    }

    @Test("a partitioned node that rejoins does not depose a healthy leader (pre-vote)")
    func rejoiningNodeDoesNotDisrupt() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        let term = net.node(1).term
        net.isolate(3)
        // Node 3 times out again and again while cut off; pre-vote keeps its term unchanged.
        for _ in 0..<200 { net.tick(3); net.stabilize() }
        #expect(net.node(3).term == term)
        net.heal()
        net.tickAll(times: 40)
        #expect(net.node(1).role == .leader)
        #expect(net.node(1).term == term)
    }

    @Test("without pre-vote, the same rejoin would bump the term (the test's control)")
    func withoutPreVoteTermGrows() {
        var net = TestNetwork(size: 3) { $0.isPreVoteEnabled = false }
        net.campaign(1)
        let term = net.node(1).term
        net.isolate(3)
        for _ in 0..<200 { net.tick(3); net.stabilize() }
        #expect(net.node(3).term > term)
    }

    @Test("a follower that hears from its leader ignores a vote request (lease)")
    func followerInLeaseIgnoresVotes() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        let term = net.node(1).term
        net.nodes[2]!.step(Message(kind: .requestVote, from: 3, to: 2, term: term + 1,
                                   logTerm: net.node(3).lastTerm, index: net.node(3).lastIndex))
        #expect(net.node(2).term == term)
        #expect(net.node(2).vote == 1)
    }
}

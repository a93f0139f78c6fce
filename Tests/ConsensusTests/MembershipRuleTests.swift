import Testing
@testable import Consensus

/// The rules of single-server configuration changes (Raft dissertation §4.1, Ongaro's 2015
/// correction), one by one.
@Suite("Membership: the rules of a change")
struct MembershipRuleTests {
    /// The error `change` is refused with on `id`, or nil when it is accepted.
    static func refusal(_ net: inout TestNetwork, _ id: NodeID, _ change: ConfigurationChange) -> ConfigurationError? {
        do {
            _ = try net.change(id, change)
            return nil
        } catch {
            return error
        }
    }

    @Test("a configuration entry is in force on each node as soon as it is in its log, before it commits")
    func inForceOnceAppended() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4) // joins with the empty configuration
        net.elect(1)
        net.isolate(2)
        net.isolate(3)
        net.cut(1, 4)
        let ticket = try net.change(1, .addLearner(id: 4, address: "10.0.0.4:7001"))
        #expect(net.node(1).configuration.role(of: 4) == .learner, "the leader uses it at once")
        #expect(net.node(1).commitIndex < ticket.index && net.node(1).isConfigurationChangePending)
        #expect(net.node(4).memberRole == nil && net.node(4).configuration.isEmpty)
        net.heal()
        net.isolate(2)
        net.isolate(3)
        net.tickAll(times: 1) // 1 reaches 4 only: the entry cannot commit
        #expect(net.node(4).memberRole == .learner, "the new node learns its configuration from the log")
        #expect(net.node(4).configuration.member(4)?.address == "10.0.0.4:7001")
        #expect(net.node(4).commitIndex < ticket.index && net.node(2).configuration.member(4) == nil)
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        for id in net.ids {
            #expect(net.node(id).configuration == Configuration.make(voters: [1, 2, 3]).replacing(Member(id: 4, role: .learner, address: "10.0.0.4:7001")))
            #expect(net.node(id).commitIndex >= ticket.index)
        }
        #expect(!net.node(1).isConfigurationChangePending)
    }

    @Test("one change at a time: a second change is refused until the first commits")
    func oneAtATime() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4)
        net.addNode(5)
        net.elect(1)
        net.isolate(2)
        net.isolate(3)
        let first = try net.change(1, .addLearner(id: 4, address: "h:4"))
        net.stabilize()
        #expect(Self.refusal(&net, 1, .addLearner(id: 5, address: "h:5")) == .changeInProgress)
        #expect(Self.refusal(&net, 1, .remove(id: 3)) == .changeInProgress)
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        #expect(net.node(1).commitIndex >= first.index)
        #expect(Self.refusal(&net, 1, .addLearner(id: 5, address: "h:5")) == nil)
    }

    @Test("no change before the leader has committed an entry of its own term")
    func notBeforeCommitInTerm() {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4)
        net.drop(.appendResponse) // the followers take the no-op, but the leader never hears it
        net.campaign(1)
        #expect(net.node(1).role == .leader && !net.node(1).hasCommittedInTerm)
        #expect(Self.refusal(&net, 1, .addLearner(id: 4, address: "h:4")) == .notCommittedInTerm)
        #expect(net.node(1).lastTerm == net.node(1).term && net.node(1).lastIndex == 1, "nothing was appended")
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks) // heartbeat answers: the no-op commits
        #expect(net.node(1).hasCommittedInTerm)
        #expect(Self.refusal(&net, 1, .addLearner(id: 4, address: "h:4")) == nil)
    }

    @Test("an uncommitted configuration entry that a new leader overwrites takes its configuration with it")
    func overwrittenEntryReverts() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4)
        net.elect(1)
        net.isolate(1)
        _ = try net.change(1, .addLearner(id: 4, address: "h:4"))
        #expect(net.node(1).configuration.member(4) != nil)
        net.nodes[2]!.campaign(isTransfer: true) // 2 and 3 elect 2 without the entry
        net.stabilize()
        #expect(net.node(2).role == .leader)
        net.heal()
        net.tickAll(times: 2 * net.node(2).config.heartbeatTicks)
        #expect(net.node(1).role == .follower && net.node(1).lastTerm == net.node(2).term)
        #expect(net.node(1).configuration == .make(voters: [1, 2, 3]), "the overwritten entry's configuration is gone")
        #expect(net.appliedConflicts == [])
    }

    @Test("each refused change names its reason with a constant text")
    func refusalReasons() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3], learners: [4], witness: 5))
        net.elect(1)
        let cases: [(ConfigurationChange, NodeID, ConfigurationError)] = [
            (.addLearner(id: 9, address: "h:9"), 2, .notLeader(leader: 1)),
            (.addLearner(id: 0, address: "h:0"), 1, .invalidMember),
            (.addLearner(id: 9, address: "h 9"), 1, .invalidMember),
            (.addLearner(id: 9, address: "h:\u{7}"), 1, .invalidMember),
            (.addLearner(id: 2, address: "h:2"), 1, .alreadyMember),
            (.addWitness(id: 9, address: "h:9"), 1, .witnessAlreadyPresent),
            (.promote(id: 9), 1, .unknownMember),
            (.remove(id: 9), 1, .unknownMember),
            (.demote(id: 9), 1, .unknownMember),
            (.promote(id: 2), 1, .notLearner),
            (.promote(id: 5), 1, .notLearner),
            (.demote(id: 4), 1, .notVoter),
            (.demote(id: 5), 1, .notVoter),
        ]
        for (change, id, expected) in cases {
            #expect(Self.refusal(&net, id, change) == expected, "\(change)")
        }
        var single = TestNetwork(configuration: .make(voters: [1], learners: [2]))
        single.elect(1)
        #expect(Self.refusal(&single, 1, .remove(id: 1)) == .removingLastVoter)
        #expect(Self.refusal(&single, 1, .demote(id: 1)) == .removingLastVoter)
        let crowd = try Configuration((1...15).map { Member(id: $0, role: $0 <= 3 ? .voter : .learner) })
        var full = TestNetwork(configuration: crowd)
        full.elect(1)
        #expect(Self.refusal(&full, 1, .addLearner(id: 16, address: "h:16")) == .tooManyMembers)
        let reasons: [ConfigurationError] = [.notLeader(leader: 0), .notCommittedInTerm, .changeInProgress, .transferring,
            .invalidMember, .alreadyMember, .unknownMember, .notLearner, .notVoter, .learnerNotCaughtUp, .removingLastVoter,
            .witnessAlreadyPresent, .tooManyMembers, .wouldLoseQuorum]
        #expect(Set(reasons.map(\.description)).count == reasons.count && !reasons.contains { $0.description.isEmpty })
    }

    @Test("a change is refused while a transfer runs, and when the voters the leader hears from would not be a quorum")
    func transferAndQuorum() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.elect(1)
        net.isolate(3)
        for _ in 0..<net.node(1).config.electionTimeoutTicks { // 3 goes unheard; 2 keeps answering
            net.tick(1)
            net.stabilize()
        }
        #expect(net.node(1).role == .leader)
        #expect(Self.refusal(&net, 1, .remove(id: 2)) == .wouldLoseQuorum, "{1, 3} with 3 unheard could never commit")
        #expect(Self.refusal(&net, 1, .remove(id: 3)) == nil, "{1, 2} is heard")
        net.stabilize()
        var other = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        other.addNode(4)
        other.elect(1)
        other.isolate(2)
        _ = try other.propose(1, "x")
        other.stabilize()
        try other.nodes[1]!.transferLeadership(to: 2) // 2 is behind: the transfer waits for it
        #expect(Self.refusal(&other, 1, .addLearner(id: 4, address: "h:4")) == .transferring)
    }
}

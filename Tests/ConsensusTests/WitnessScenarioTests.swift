import Testing
@testable import Consensus

/// Two full trackers and a witness through failures: either full node may die and the other
/// goes on with the witness; when the leader dies while the other is down, the cluster waits
/// rather than lose what it acknowledged.
@Suite("Witness: scenarios")
struct WitnessScenarioTests {
    static let limit = 40 * 15 // rounds: forty election timeouts

    @Test("kill either full node in turn: the other commits with the witness, and catches up when it returns")
    func eitherFullNodeMayDie() throws {
        var net = TestNetwork(configuration: WitnessTests.configuration)
        net.elect(1)
        net.isolate(2)
        let a = try net.propose(1, "a")
        let isCommittedByOne = net.tick(until: { $0.node(1).commitIndex >= a.index }, limit: Self.limit)
        #expect(isCommittedByOne, "1 and the witness commit while 2 is down")
        net.heal()
        let isCaughtUp = net.tick(until: { $0.appliedData(2) == ["a"] && !$0.node(1).isWitnessEngaged }, limit: Self.limit)
        #expect(isCaughtUp)
        net.isolate(1)
        let isElected = net.tick(until: { $0.node(2).role == .leader }, limit: Self.limit)
        #expect(isElected, "2 holds the witness's mark: the witness votes for it")
        let b = try net.propose(2, "b")
        let isCommittedByTwo = net.tick(until: { $0.node(2).commitIndex >= b.index }, limit: Self.limit)
        #expect(isCommittedByTwo && net.node(2).isWitnessEngaged)
        #expect(net.node(1).role == .follower, "the cut-off old leader stepped down (check-quorum)")
        net.heal()
        let isWhole = net.tick(until: { $0.appliedData(1) == ["a", "b"] }, limit: Self.limit)
        #expect(isWhole && net.appliedConflicts == [])
        #expect(net.node(3).lastIndex == 0 && net.applied[3]!.isEmpty)
    }

    @Test("the leader dies while the other full node is down: the survivor is refused by the witness, the cluster waits, nothing acknowledged is lost")
    func leaderDiesWhileOtherIsDown() throws {
        var net = TestNetwork(configuration: WitnessTests.configuration)
        net.elect(1)
        net.isolate(2)
        let acknowledged = [try net.propose(1, "a"), try net.propose(1, "b")]
        let isCommitted = net.tick(until: { $0.node(1).commitIndex >= acknowledged[1].index }, limit: Self.limit)
        #expect(isCommitted, "acknowledged: on 1's disk and under the witness's mark")
        let mark = net.node(3).witnessMark
        #expect(mark >= LogMark(term: acknowledged[1].term, index: acknowledged[1].index))
        net.heal()
        net.isolate(1) // 1 dies; 2 comes back behind the mark
        let term = net.node(2).term
        net.tickAll(times: 20 * net.node(2).config.electionTimeoutTicks)
        // What the survivor's status says: no leader, a term that pre-votes did not raise, the
        // commit index it had.
        #expect(net.node(2).role != .leader && net.node(2).leader == 0 && net.node(2).term == term)
        #expect(net.node(2).commitIndex < acknowledged[0].index && LogMark(term: net.node(2).lastTerm, index: net.node(2).lastIndex) < mark)
        #expect(net.node(3).refusals.votesBehindWitnessMark > 0, "the witness refused it, counted")
        #expect(net.ids.allSatisfy { net.node($0).role != .leader || $0 == 1 })
        net.heal() // 1 returns
        let isBack = net.tick(until: { $0.appliedData(2) == ["a", "b"] && $0.appliedData(1) == ["a", "b"] }, limit: Self.limit)
        #expect(isBack && net.appliedConflicts == [], "every acknowledged entry survives")
    }

    @Test("a witness is a member role: added by a configuration change, it then commits for a leader whose peer is down")
    func witnessAddedAtRuntime() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2]))
        net.addNode(3, initialConfiguration: WitnessTests.configuration, incarnation: 33) // a witness's configuration is static
        net.elect(1)
        let ticket = try net.change(1, .addWitness(id: 3, address: "10.0.0.3:7001", incarnation: 33))
        net.stabilize()
        #expect(net.node(1).commitIndex >= ticket.index && net.node(2).configuration.witnessID == 3)
        #expect(net.node(1).configuration.member(3)?.incarnation == 33)
        #expect(!net.sent.contains { $0.to == 3 && $0.kind == .appendEntries }, "a witness is sent no entries")
        net.isolate(2)
        let x = try net.propose(1, "x")
        let isCommitted = net.tick(until: { $0.node(1).commitIndex >= x.index }, limit: Self.limit)
        #expect(isCommitted && net.node(1).isWitnessEngaged)
        #expect(MembershipRuleTests.refusal(&net, 1, .remove(id: 3)) == .wouldLoseQuorum, "{1, 2} with 2 down could not commit")
        net.heal()
        let isCaughtUp = net.tick(until: { $0.appliedData(2) == ["x"] }, limit: Self.limit)
        #expect(isCaughtUp)
        _ = try net.change(1, .remove(id: 3))
        let isRemoved = net.tick(until: { !$0.node(1).isConfigurationChangePending }, limit: Self.limit)
        #expect(isRemoved && net.node(1).configuration == .make(voters: [1, 2]) && !net.node(1).isWitnessEngaged)
    }
}

import Testing
@testable import Consensus

/// Pinning incarnations (the host does it on the leader, one change at a time) and the new
/// leader's witness engagement.
@Suite("Membership: pinning identities")
struct PinningTests {
    /// Seed voters 1, 2, 3 (unpinned in the configuration) whose data directories are 11, 12, 13.
    static func seedNetwork() -> TestNetwork {
        var net = TestNetwork(configuration: .make(voters: []))
        let seed = Configuration.make(voters: [1, 2, 3])
        for id: NodeID in [1, 2, 3] { net.addNode(id, initialConfiguration: seed, incarnation: 10 + id) }
        return net
    }

    @Test("the leader lists unpinned members with the incarnation they answered with; a pin takes one and only one")
    func membersToPin() throws {
        var net = Self.seedNetwork()
        net.elect(1)
        net.stabilize()
        #expect(net.node(1).membersToPin.map(\.id) == [1, 2, 3])
        #expect(net.node(1).membersToPin.map(\.incarnation) == [11, 12, 13])
        #expect(net.node(2).membersToPin.isEmpty, "only a leader pins")
        let ticket = try net.change(1, .pin(id: 2, incarnation: 12))
        net.stabilize()
        #expect(net.node(1).commitIndex >= ticket.index)
        #expect(net.node(3).configuration.incarnation(of: 2) == 12)
        #expect(net.node(1).membersToPin.map(\.id) == [1, 3])
        #expect(throws: ConfigurationError.alreadyPinned) { try net.change(1, .pin(id: 2, incarnation: 99)) }
        #expect(throws: ConfigurationError.alreadyPinned) { try net.change(1, .pin(id: 3, incarnation: 0)) }
        #expect(throws: ConfigurationError.unknownMember) { try net.change(1, .pin(id: 9, incarnation: 5)) }
    }

    @Test("once pinned, the same id from a wiped data directory is refused; unpinned, it would have been taken for the old member")
    func pinnedRefusesWiped() throws {
        var net = Self.seedNetwork()
        net.elect(1)
        net.stabilize()
        _ = try net.change(1, .pin(id: 3, incarnation: 13))
        net.stabilize()
        net.wipe(3, newIncarnation: 77)
        net.wipe(2, newIncarnation: 78) // 2 is not pinned: accepted under any incarnation
        let ticket = try net.propose(1, "after the wipe")
        net.tickAll(times: 3 * net.node(1).config.heartbeatTicks)
        #expect(net.node(1).refusals.lastMessage == .incarnationMismatch)
        #expect((net.node(1).matchIndexes.first { $0.id == 3 }?.match ?? 0) < ticket.index, "3's answers are refused")
        #expect(net.node(3).lastIndex == 0)
        #expect((net.node(1).matchIndexes.first { $0.id == 2 }?.match ?? 0) >= ticket.index, "2 is refilled: nothing pinned it")
    }

    @Test("a leader elected with the witness's vote, the other full voter silent, engages the witness at once and commits its first entry without waiting")
    func newLeaderEngagesWitness() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2], witness: 3))
        net.elect(1)
        net.stabilize()
        net.isolate(1)
        net.campaign(2)
        #expect(net.node(2).role == .leader)
        #expect(net.node(2).isWitnessEngaged, "1 did not vote for this leader: it is not known to be reachable")
        let ticket = try net.propose(2, "x")
        net.stabilize()
        #expect(net.node(2).commitIndex >= ticket.index, "committed with the witness before any tick")
    }
}

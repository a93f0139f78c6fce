import Testing
@testable import Consensus

/// A member is its id and its incarnation (the data directory's identity, KIP-853 style).
@Suite("Membership: identity")
struct IdentityTests {
    static let pinned = try! Configuration([
        Member(id: 1, role: .voter, incarnation: 11), Member(id: 2, role: .voter, incarnation: 12),
        Member(id: 3, role: .voter, incarnation: 13),
    ])

    @Test("a tracker back with an empty data directory under its old id is not counted as that voter")
    func wipedTrackerNotCounted() throws {
        var net = TestNetwork(configuration: Self.pinned)
        net.elect(1)
        net.wipe(3, newIncarnation: 99)
        net.isolate(2)
        let ticket = try net.propose(1, "x")
        net.tickAll(times: 3 * net.node(1).config.heartbeatTicks)
        #expect(net.node(1).commitIndex < ticket.index, "3's empty log is not the one 3 acknowledged before")
        #expect(net.node(1).refusals.lastMessage == .incarnationMismatch && net.node(1).refusals.messages > 0)
        #expect(net.node(3).lastIndex == 0, "its answers are refused, so the leader never fills it in")
        net.tickAll(times: 10 * net.node(3).config.electionTimeoutTicks)
        #expect(!net.sent.contains { $0.from == 3 && ($0.kind == .preVote || $0.kind == .requestVote) },
                "it is not that voter: it does not campaign")
        net.heal()
        let isCommitted = net.tick(until: { $0.node(1).commitIndex >= ticket.index }, limit: 100)
        #expect(isCommitted, "with 2 back, the real voters commit")
    }

    @Test("every message carries its sender's incarnation, also through the codec")
    func messagesCarryIncarnation() throws {
        var net = TestNetwork(configuration: Self.pinned)
        net.elect(1)
        _ = try net.propose(1, "x")
        net.stabilize()
        #expect(!net.sent.isEmpty)
        for m in net.sent {
            #expect(m.fromIncarnation == 10 + m.from)
            #expect(try RaftCodec.decodeMessage(RaftCodec.encode(m)) == m)
        }
    }

    @Test("an unpinned member (a seed without an incarnation) is accepted with any incarnation")
    func unpinnedAcceptsAny() {
        var node = try! RaftNode(config: RaftConfig(id: 2, peers: [1, 2, 3]), persisted: PersistedState())
        node.step(Message(kind: .heartbeat, from: 1, to: 2, term: 1, fromIncarnation: 0xDEAD_BEEF))
        #expect(node.refusals.messages == 0 && node.leader == 1)
    }

    @Test("a learner added with an incarnation is followed only from that data directory")
    func addedMemberIsPinned() throws {
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]))
        net.addNode(4, incarnation: 45) // not the directory the operator added
        net.elect(1)
        _ = try net.change(1, .addLearner(id: 4, address: "h:4", incarnation: 44))
        net.stabilize()
        net.tickAll(times: 2 * net.node(1).config.heartbeatTicks)
        #expect(net.node(1).refusals.lastMessage == .incarnationMismatch)
        #expect(net.node(1).matchIndexes.first { $0.id == 4 }?.match == 0 && net.node(1).learnersReadyForPromotion.isEmpty)
        net.wipe(4, newIncarnation: 44)
        net.tickAll(times: 2 * net.node(1).config.heartbeatTicks)
        #expect(net.node(1).learnersReadyForPromotion == [4] && net.node(4).memberRole == .learner)
    }
}

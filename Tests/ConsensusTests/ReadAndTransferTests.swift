import Testing
import BinaryCoding
@testable import Consensus

@Suite("ReadIndex")
struct ReadIndexTests {
    @Test("a read is answered only after a heartbeat round confirms leadership, at the commit index")
    func readConfirmedByRound() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        _ = try net.propose(1, "w")
        net.stabilize()
        try net.nodes[1]!.readIndex(requestID: 42)
        net.drainReady()
        #expect(net.readStates[1, default: []].isEmpty, "not before the round is acknowledged")
        net.stabilize()
        #expect(net.readStates[1] == [ReadState(requestID: 42, index: net.node(1).commitIndex)])
    }

    @Test("many reads waiting together share one heartbeat round")
    func readsShareRound() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.stabilize()
        net.sent.removeAll()
        for id in 1...50 { try net.nodes[1]!.readIndex(requestID: UInt64(id)) }
        net.stabilize()
        let heartbeats = net.sent.filter { $0.kind == .heartbeat }
        #expect(heartbeats.count == 2, "one heartbeat to each follower for all fifty reads")
        #expect(net.readStates[1]?.count == 50)
    }

    @Test("a new leader holds reads until it has committed an entry of its term")
    func readWaitsForCommitInTerm() throws {
        var net = TestNetwork(size: 3)
        net.nodes[1]!.campaign(isTransfer: true)
        net.drainReady()
        // Deliver only the vote responses: leader elected, its no-op not yet acknowledged.
        for m in net.inFlight where m.kind == .requestVote { net.nodes[m.to]!.step(m) }
        net.inFlight.removeAll()
        net.drainReady()
        let votes = net.inFlight.filter { $0.kind == .requestVoteResponse }
        net.inFlight.removeAll()
        for m in votes { net.nodes[1]!.step(m) }
        #expect(net.node(1).role == .leader)
        try net.nodes[1]!.readIndex(requestID: 7)
        net.drainReady()
        let earlyHeartbeats = net.inFlight.filter { $0.kind == .heartbeat && $0.context != 0 }
        #expect(earlyHeartbeats.isEmpty, "no read round before an entry of this term commits")
        net.stabilize()
        let state = try #require(net.readStates[1]?.first)
        #expect(state.index >= 1 && net.node(1).term(at: state.index) == net.node(1).term)
    }

    @Test("a read on a leader that is deposed is never answered, and is reported dropped")
    func deposedLeaderNeverAnswers() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.isolate(1)
        try net.nodes[1]!.readIndex(requestID: 9)
        net.stabilize()
        // The majority's lease on node 1 runs out and it elects node 2; node 1 learns of the
        // new term when healed.
        for _ in 0..<net.node(2).config.electionTimeoutTicks { net.tick(3); net.stabilize() }
        net.campaign(2)
        #expect(net.node(2).role == .leader)
        net.heal()
        net.tickAll(times: 20)
        #expect(net.readStates[1, default: []].isEmpty)
        #expect(net.droppedReads[1] == [9])
    }

    @Test("one acknowledgement is not a quorum of five: the read waits until a majority answers")
    func readNeedsQuorum() throws {
        var net = TestNetwork(size: 5)
        net.campaign(1)
        net.cut(1, 3); net.cut(1, 4); net.cut(1, 5)
        try net.nodes[1]!.readIndex(requestID: 5)
        net.stabilize()
        #expect(net.readStates[1, default: []].isEmpty)
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        #expect(net.readStates[1]?.map(\.requestID) == [5])
    }

    @Test("a follower refuses a read and names the leader")
    func followerRefusesRead() {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        #expect(throws: ProposalError.notLeader(leader: 1)) { try net.nodes[2]!.readIndex(requestID: 1) }
    }

    @Test("a single-node cluster elects itself, commits and serves reads alone")
    func singleNode() throws {
        var net = TestNetwork(size: 1)
        net.tickAll(times: 40)
        #expect(net.node(1).role == .leader)
        _ = try net.propose(1, "solo")
        net.stabilize()
        try net.nodes[1]!.readIndex(requestID: 3)
        net.stabilize()
        #expect(net.appliedData(1) == ["solo"])
        #expect(net.readStates[1]?.first?.requestID == 3)
    }
}

@Suite("Leadership transfer")
struct TransferTests {
    @Test("leadership passes to the target within one election timeout, with no term gap")
    func transferWithinTimeout() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        let term = net.node(1).term
        try net.nodes[1]!.transferLeadership(to: 3)
        net.stabilize()
        #expect(net.node(3).role == .leader)
        #expect(net.node(3).term == term + 1)
        #expect(net.node(1).role == .follower)
    }

    @Test("a lagging target is caught up first, then takes over")
    func transferToLaggingTarget() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.isolate(3)
        for i in 0..<10 { _ = try net.propose(1, "t\(i)") }
        net.stabilize()
        net.heal()
        try net.nodes[1]!.transferLeadership(to: 3)
        net.stabilize()
        #expect(net.node(3).role == .leader)
        #expect(net.node(3).lastIndex >= 11)
    }

    @Test("proposals are refused during a transfer, and a transfer that cannot finish is abandoned")
    func transferAbandoned() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        net.isolate(3)
        _ = try net.propose(1, "x")
        net.stabilize()
        try net.nodes[1]!.transferLeadership(to: 3)
        #expect(throws: ProposalError.transferring) { _ = try net.propose(1, "y") }
        for _ in 0..<net.node(1).config.electionTimeoutTicks { net.tick(1); net.tick(2); net.stabilize() }
        #expect(net.node(1).role == .leader)
        #expect(throws: Never.self) { _ = try net.propose(1, "z") }
    }
}

@Suite("Message codec")
struct CodecTests {
    @Test("every message kind round-trips through its encoding")
    func roundTrip() throws {
        for kind in MessageKind.allCases {
            let m = Message(kind: kind, from: 1, to: 2, term: 9, logTerm: 8, index: 7,
                            entries: [Entry(term: 8, index: 8, data: [1, 2, 3]), Entry(term: 9, index: 9, kind: .noop)],
                            commit: 6, reject: true, rejectHint: 5, context: 4)
            #expect(try RaftCodec.decodeMessage(RaftCodec.encode(m)) == m)
        }
    }

    @Test("truncated, trailing or garbage bytes are refused with an error, never a trap")
    func refusesGarbage() {
        let good = RaftCodec.encode(Message(kind: .appendEntries, from: 1, to: 2, term: 3, entries: [Entry(term: 3, index: 1, data: [9])]))
        for cut in 0..<good.count {
            #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage(Array(good[..<cut])) }
        }
        #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage(good + [0]) }
        #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage([99] + good.dropFirst()) }
        var hugeCount = good
        hugeCount[75...78] = [0xFF, 0xFF, 0xFF, 0xFF] // format, kind, 9 u64 fields and a bool come first
        #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage(hugeCount) }
    }
}

import Testing
@testable import Consensus

extension RaftPaperTests {
    @Suite("Figure 2: RequestVote receiver, and §5.4.1 the election restriction")
    struct Voting {
        @Test("Figure 2 RequestVote receiver 1: reply false if term < currentTerm (a stale RequestVote is dropped unanswered, as in etcd; a stale PreVote gets false with currentTerm)")
        func staleVoteRefused() {
            var node = Paper.node(id: 2, term: 3, log: [1])
            let before = ServerState(node)
            node.step(Message(kind: .requestVote, from: 1, to: 2, term: 2, logTerm: 1, index: 5))
            #expect(ServerState(node) == before)
            #expect(!node.hasReady, "no vote granted, nothing to persist or send")
            node.step(Message(kind: .preVote, from: 3, to: 2, term: 2, logTerm: 1, index: 5))
            #expect(ServerState(node) == before)
            #expect(Paper.flush(&node).messages == [Message(kind: .preVoteResponse, from: 2, to: 3, term: 3, reject: true)])
        }

        @Test("Figure 2 RequestVote receiver 2 (§5.2): grant only if votedFor is null or candidateId: at most one vote per term, first come first served")
        func oneVotePerTerm() {
            let cases: [(vote: NodeID, candidate: NodeID, isRefused: Bool)] = [
                (0, 1, false), (0, 3, false), (1, 1, false), (3, 3, false), (1, 3, true), (3, 1, true),
            ]
            for (i, c) in cases.enumerated() {
                var node = Paper.node(id: 2, term: 1, vote: c.vote)
                node.step(Message(kind: .requestVote, from: c.candidate, to: 2, term: 1))
                let rd = Paper.flush(&node)
                #expect(rd.messages == [Message(kind: .requestVoteResponse, from: 2, to: c.candidate, term: 1, reject: c.isRefused)], "case \(i)")
                #expect(node.vote == (c.vote == 0 ? c.candidate : c.vote), "case \(i)")
            }
            // A follower that learned the term's leader from an AppendEntries has votedFor null
            // but refuses too (as in etcd): the term already has a leader.
            var node = Paper.node(id: 2, term: 1)
            node.step(Paper.append(from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0))
            Paper.flush(&node)
            node.step(Message(kind: .requestVote, from: 3, to: 2, term: 1))
            #expect(Paper.flush(&node).messages == [Message(kind: .requestVoteResponse, from: 2, to: 3, term: 1, reject: true)])
            #expect(node.vote == 0)
        }

        @Test("Figure 2 RequestVote receiver 2 (§5.4.1): grant only if the candidate's log is at least as up-to-date as the receiver's: a later last term wins, and with equal last terms the longer log")
        func upToDateLogsGetVotes() {
            let cases: [(log: [UInt64], lastTerm: UInt64, lastIndex: UInt64, isRefused: Bool)] = [
                // same last term
                ([1], 1, 1, false), ([1], 1, 2, false), ([1, 1], 1, 1, true),
                // candidate's last term higher
                ([1], 2, 1, false), ([1], 2, 2, false), ([1, 1], 2, 1, false),
                // voter's last term higher
                ([2], 1, 1, true), ([2], 1, 2, true), ([2, 2], 1, 1, true), ([1, 2], 1, 3, true),
            ]
            for (i, c) in cases.enumerated() {
                var node = Paper.node(peers: [1, 2], term: 2, log: c.log)
                node.step(Message(kind: .requestVote, from: 2, to: 1, term: 3, logTerm: c.lastTerm, index: c.lastIndex))
                #expect(Paper.flush(&node).messages == [Message(kind: .requestVoteResponse, from: 1, to: 2, term: 3, reject: c.isRefused)], "case \(i)")
                #expect(ServerState(node) == ServerState(role: .follower, term: 3, vote: c.isRefused ? 0 : 2, leader: 0, commit: 0, logTerms: c.log), "case \(i)")
            }
        }

        @Test("§5.4.1 Election restriction: a candidate whose log lacks a committed entry cannot win, and one whose log holds it can")
        func electionRestriction() throws {
            var net = TestNetwork(size: 5, configure: Paper.classic)
            net.campaign(1)
            net.cut(1, 4)
            net.cut(1, 5)
            _ = try net.propose(1, "x")
            net.stabilize()
            #expect(net.node(1).commitIndex == 2, "committed on nodes 1, 2 and 3")
            net.isolate(1)
            net.campaign(4)
            #expect(net.node(4).role != .leader, "2 and 3 hold the committed entry and refuse node 4")
            #expect(net.sent.filter { $0.kind == .requestVoteResponse && $0.to == 4 }.map { [$0.from, $0.reject ? 0 : 1] }
                    == [[2, 0], [3, 0], [5, 1]])
            net.campaign(3)
            #expect(net.node(3).role == .leader)
            #expect(net.node(3).term(at: 2) == net.node(1).term(at: 2))
            net.tickAll(times: 6)
            #expect(net.appliedData(4) == ["x"] && net.appliedData(5) == ["x"])
        }
    }
}

import Testing
@testable import Consensus

extension RaftPaperTests {
    @Suite("Figure 2: AppendEntries receiver, Figure 7, and §5.5 crashes")
    struct AppendEntries {
        /// Follower 2 of three, holding entries of `log` with `commit` of them committed (and applied).
        static func follower(term: UInt64, commit: UInt64 = 0, log: [UInt64]) -> RaftNode {
            Paper.node(id: 2, term: term, commit: commit, log: log)
        }

        @Test("Figure 2 AppendEntries receiver 1: reply false if term < currentTerm (the answer carries currentTerm, which deposes the stale leader; nothing of the request is taken, and it does not count as hearing from the leader)")
        func staleAppendRefused() throws {
            for stale in [Paper.append(from: 1, to: 2, term: 2, prevIndex: 2, prevTerm: 2, terms: [2], commit: 2),
                          Message(kind: .heartbeat, from: 1, to: 2, term: 2, commit: 2)] {
                var node = Self.follower(term: 3, log: [1, 2])
                for _ in 0..<3 { node.tick() }
                let before = ServerState(node)
                node.step(stale)
                #expect(ServerState(node) == before)
                #expect(node.electionElapsed == 3)
                let rd = Paper.flush(&node)
                #expect(rd.messages == [Message(kind: .appendResponse, from: 2, to: 1, term: 3)])
                #expect(rd.entries.isEmpty && rd.hardState == nil)
                var staleLeader = Paper.leader(term: 1, log: [1, 1]).node
                #expect(staleLeader.role == .leader && staleLeader.term == 2)
                staleLeader.step(try #require(rd.messages.first))
                #expect(staleLeader.role == .follower && staleLeader.term == 3)
            }
        }

        @Test("Figure 2 AppendEntries receiver 2: reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm (the refusal hints where the logs may agree)")
        func consistencyCheck() {
            let cases: [(prevTerm: UInt64, prevIndex: UInt64, answer: Message)] = [
                // match: before the log, at a committed entry, at an uncommitted one
                (0, 0, Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 1)),
                (1, 1, Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 1)),
                (2, 2, Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 2)),
                // an entry at prevLogIndex of another term; no entry at prevLogIndex
                (1, 2, Message(kind: .appendResponse, from: 2, to: 1, term: 3, logTerm: 1, index: 2, reject: true, rejectHint: 1)),
                (3, 3, Message(kind: .appendResponse, from: 2, to: 1, term: 3, logTerm: 2, index: 3, reject: true, rejectHint: 2)),
            ]
            for (i, c) in cases.enumerated() {
                var node = Self.follower(term: 3, commit: 1, log: [1, 2])
                node.step(Paper.append(from: 1, to: 2, term: 3, prevIndex: c.prevIndex, prevTerm: c.prevTerm))
                let rd = Paper.flush(&node)
                #expect(rd.messages == [c.answer], "case \(i)")
                #expect(rd.entries.isEmpty && Paper.logTerms(node) == [1, 2], "case \(i)")
            }
        }

        /// Follower 2 (log [1, 2], term 2) receives an append of term 4; returns its log terms after,
        /// the entries the Ready asks the host to write, and its answer's index.
        static func receive(prevIndex: UInt64, prevTerm: UInt64, terms: [UInt64], into log: [UInt64] = [1, 2])
            -> (log: [UInt64], written: [Entry], acked: UInt64?) {
            var node = Self.follower(term: 2, log: log)
            node.step(Paper.append(from: 1, to: 2, term: 4, prevIndex: prevIndex, prevTerm: prevTerm, terms: terms))
            let rd = Paper.flush(&node)
            let ack = rd.messages.first { $0.kind == .appendResponse && !$0.reject }
            return (Paper.logTerms(node), rd.entries, ack?.index)
        }

        @Test("Figure 2 AppendEntries receiver 3: if an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it")
        func conflictTruncates() {
            var r = Self.receive(prevIndex: 1, prevTerm: 1, terms: [3, 4])
            #expect(r.log == [1, 3, 4] && r.written == Paper.entries([3, 4], from: 2) && r.acked == 3)
            r = Self.receive(prevIndex: 0, prevTerm: 0, terms: [3])
            #expect(r.log == [3] && r.written == Paper.entries([3]) && r.acked == 1, "entry 2 followed the conflict at 1: gone too")
            r = Self.receive(prevIndex: 0, prevTerm: 0, terms: [1, 3])
            #expect(r.log == [1, 3] && r.written == Paper.entries([3], from: 2) && r.acked == 2)
        }

        @Test("Figure 2 AppendEntries receiver 4: append any new entries not already in the log (and rewrite none that are: an older, shorter append truncates nothing)")
        func appendsOnlyNew() {
            var r = Self.receive(prevIndex: 2, prevTerm: 2, terms: [3])
            #expect(r.log == [1, 2, 3] && r.written == Paper.entries([3], from: 3) && r.acked == 3)
            r = Self.receive(prevIndex: 0, prevTerm: 0, terms: [1, 2])
            #expect(r.log == [1, 2] && r.written.isEmpty && r.acked == 2)
            r = Self.receive(prevIndex: 0, prevTerm: 0, terms: [1, 2, 4])
            #expect(r.log == [1, 2, 4] && r.written == Paper.entries([4], from: 3) && r.acked == 3)
            r = Self.receive(prevIndex: 0, prevTerm: 0, terms: [1], into: [1, 2, 4])
            #expect(r.log == [1, 2, 4] && r.written.isEmpty && r.acked == 1, "a delayed append of a prefix")
        }

        @Test("Figure 2 AppendEntries receiver 5: if leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)")
        func commitFollowsLeader() {
            let cases: [(prevIndex: UInt64, terms: [UInt64], leaderCommit: UInt64, storedCommit: UInt64, commit: UInt64)] = [
                (3, [2], 5, 0, 4), // capped at the last new entry
                (1, [], 3, 0, 1), // entries 2 and 3 are not known to be the leader's: not committed
                (3, [], 2, 0, 2),
                (2, [1], 3, 0, 3), // entry 3 was already there: it is the last new entry
                (0, [], 3, 0, 0),
                (3, [], 1, 3, 3), // commitIndex never goes down
            ]
            for (i, c) in cases.enumerated() {
                var node = Self.follower(term: 2, commit: c.storedCommit, log: [1, 1, 1])
                node.step(Paper.append(from: 1, to: 2, term: 2, prevIndex: c.prevIndex, prevTerm: c.prevIndex == 0 ? 0 : 1,
                                       terms: c.terms, commit: c.leaderCommit))
                #expect(node.commitIndex == c.commit, "case \(i)")
                let applied = Paper.flush(&node).committedEntries.map(\.index)
                #expect(applied == Array(stride(from: c.storedCommit + 1, through: c.commit, by: 1)), "case \(i)")
            }
        }

        @Test("§5.3 Figure 7: a leader brings each follower's log (a)–(f) into agreement with its own, overwriting conflicting entries",
              arguments: [
                  [1, 1, 1, 4, 4, 5, 5, 6, 6], [1, 1, 1, 4], [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
                  [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], [1, 1, 1, 4, 4, 4, 4], [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
              ] as [[UInt64]])
        func figureSeven(followerLog: [UInt64]) {
            let leaderLog: [UInt64] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
            var net = TestNetwork(size: 3, configure: Paper.classic)
            net.load(1, term: 7, logTerms: leaderLog)
            net.load(2, term: followerLog.max()!, logTerms: followerLog)
            net.load(3, term: 7, logTerms: leaderLog) // votes for node 1 when the follower would not
            net.campaign(1)
            #expect(net.node(1).role == .leader && net.node(1).term == 8)
            net.tickAll(times: net.node(1).config.heartbeatTicks)
            #expect(Paper.logTerms(net.node(2)) == leaderLog + [8])
            #expect(net.node(2).log.entries == net.node(1).log.entries)
            #expect(net.node(2).commitIndex == 11)
        }

        @Test("§5.5 Follower and candidate crashes: RPCs are idempotent: a duplicated AppendEntries or RequestVote changes nothing and gets the same answer")
        func duplicatesChangeNothing() {
            let requests = [Paper.append(from: 1, to: 2, term: 2, prevIndex: 1, prevTerm: 1, terms: [2, 2], commit: 1),
                            Message(kind: .requestVote, from: 3, to: 2, term: 3, logTerm: 2, index: 3)]
            for request in requests {
                var node = Self.follower(term: 2, log: [1])
                node.step(request)
                let first = Paper.flush(&node)
                let state = ServerState(node)
                node.step(request)
                let again = Paper.flush(&node)
                #expect(ServerState(node) == state, "\(request.kind)")
                #expect(!first.messages.isEmpty && again.messages == first.messages, "\(request.kind)")
                #expect(again.entries.isEmpty && again.hardState == nil && !again.mustSync && again.committedEntries.isEmpty, "\(request.kind)")
            }
        }

        @Test("§5.5 Follower and candidate crashes: the leader retries indefinitely; a follower that crashed and restarts from stable storage completes its log")
        func crashedFollowerCatchesUp() throws {
            var net = TestNetwork(size: 3)
            net.campaign(1)
            net.isolate(3) // crashed: nothing reaches it
            for data in ["a", "b", "c"] { _ = try net.propose(1, data) }
            net.stabilize()
            let sentBefore = net.sent.count
            let heartbeat = net.node(1).config.heartbeatTicks
            net.tickAll(times: 3 * heartbeat)
            let retries = net.sent[sentBefore...].filter { $0.from == 1 && $0.to == 3 }
            #expect(retries.count >= 3, "the leader keeps sending to the crashed follower")
            net.restart(3)
            net.heal()
            net.tickAll(times: 2 * heartbeat)
            #expect(net.node(3).log.entries == net.node(1).log.entries)
            #expect(net.appliedData(3) == ["a", "b", "c"])
        }
    }
}

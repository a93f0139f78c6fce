import Testing
@testable import Consensus

extension RaftPaperTests {
    @Suite("Figure 2 and §5.3: leaders and log replication")
    struct Leader {
        /// Each append as [to, prevLogIndex, prevLogTerm, commit, entry indexes...].
        static func summary(_ messages: [Message]) -> [[UInt64]] {
            messages.map { [$0.to, $0.index, $0.logTerm, $0.commit] + $0.entries.map(\.index) }
        }

        @Test("Figure 2 Leaders: upon election: send initial AppendEntries RPCs to each server (here each carries the new term's no-op entry, §8)")
        func initialAppends() {
            let (node, rd) = Paper.leader(term: 1, log: [1, 1])
            let noop = Entry(term: 2, index: 3, kind: .noop)
            #expect(ServerState(node) == ServerState(role: .leader, term: 2, vote: 1, leader: 1, commit: 0, logTerms: [1, 1, 2]))
            #expect(rd.softState == SoftState(leader: 1, role: .leader, term: 2))
            #expect(rd.entries == [noop] && rd.mustSync)
            #expect(rd.messages == [2, 3].map {
                Message(kind: .appendEntries, from: 1, to: $0, term: 2, logTerm: 1, index: 2, entries: [noop], commit: 0)
            })
        }

        @Test("§5.2 Leaders: send heartbeats (AppendEntries that carry no entries) to all followers every heartbeat interval, so no follower's election timeout elapses")
        func heartbeats() {
            var node = Paper.steadyLeader()
            for _ in 1..<node.config.heartbeatTicks {
                node.tick()
                #expect(!node.hasReady, "nothing before the interval")
            }
            node.tick()
            #expect(Paper.flush(&node).messages == [2, 3].map { Message(kind: .heartbeat, from: 1, to: $0, term: 1, commit: 1) })

            var net = TestNetwork(size: 3)
            net.campaign(1)
            let term = net.node(1).term
            net.tickAll(times: 10 * net.node(1).config.electionTimeoutTicks)
            #expect(net.ids.map { net.node($0).term } == [term, term, term])
            #expect(net.ids.map { net.node($0).leader } == [1, 1, 1])
        }

        @Test("Figure 2 Leaders: if command received from client: append entry to local log, respond after entry applied to state machine (§5.3)")
        func clientCommand() throws {
            var node = Paper.steadyLeader()
            let ticket = try node.propose(Array("x".utf8))
            let x = Entry(term: 1, index: 2, data: Array("x".utf8))
            #expect(ticket == ProposalTicket(index: 2, term: 1))
            #expect(ServerState(node) == ServerState(role: .leader, term: 1, vote: 1, leader: 1, commit: 1, logTerms: [1, 1]))
            let rd = Paper.flush(&node)
            #expect(rd.entries == [x] && rd.mustSync)
            #expect(rd.messages == [2, 3].map {
                Message(kind: .appendEntries, from: 1, to: $0, term: 1, logTerm: 1, index: 1, entries: [x], commit: 1)
            })
            #expect(rd.committedEntries.isEmpty, "not applied, so not answered, before a majority holds it")
            node.step(Paper.accept(try #require(rd.messages.first)))
            #expect(Paper.flush(&node).committedEntries == [x], "the host answers once the entry at the ticket's index and term is applied")
        }

        @Test("Figure 2 Leaders: if last log index ≥ nextIndex for a follower: send AppendEntries RPC with log entries starting at nextIndex")
        func sendsFromNextIndex() throws {
            var node = Paper.steadyLeader { $0.appendEntriesMax = 2 }
            for data in ["a", "b", "c"] { _ = try node.propose(Array(data.utf8)) }
            let rd = Paper.flush(&node)
            // Each follower's nextIndex is 2: entries 2...4, at most two an append.
            #expect(Self.summary(rd.messages) == [[2, 1, 1, 1, 2, 3], [2, 3, 1, 1, 4], [3, 1, 1, 1, 2, 3], [3, 3, 1, 1, 4]])
            #expect(rd.messages.allSatisfy { $0.kind == .appendEntries && $0.term == 1 })
            #expect(!node.hasReady, "last log index < nextIndex for both: nothing more to send")
        }

        @Test("Figure 2 Leaders: if successful: update nextIndex and matchIndex for follower (a stale success changes neither)")
        func successUpdatesProgress() throws {
            let elected = Paper.leader(term: 1, log: [1, 1])
            var node = elected.node
            let rd = elected.ready
            #expect(node.progress[2]!.next == 3 && node.progress[2]!.match == 0)
            node.step(Paper.accept(try #require(rd.messages.first)))
            #expect(node.progress[2]!.next == 4 && node.progress[2]!.match == 3 && node.progress[2]!.state == .replicate)
            node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 2, index: 1))
            #expect(node.progress[2]!.next == 4 && node.progress[2]!.match == 3)
            #expect(node.matchIndexes.map { [$0.id, $0.match] } == [[1, 3], [2, 3], [3, 0]])
        }

        @Test("Figure 2 Leaders: if AppendEntries fails because of log inconsistency: decrement nextIndex and retry (without a hint by one; with the follower's hint past a whole conflicting term; always below the rejected index, above matchIndex)")
        func inconsistencyBacksOff() {
            let elected = Paper.leader(term: 1, log: [1, 1, 1, 1, 1])
            var node = elected.node
            let rd = elected.ready
            #expect(Self.summary(rd.messages) == [[2, 5, 1, 0, 6], [3, 5, 1, 0, 6]])
            func reject(_ index: UInt64, hint: UInt64, hintTerm: UInt64 = 0) -> [[UInt64]] {
                node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 2, logTerm: hintTerm, index: index, reject: true, rejectHint: hint))
                return Self.summary(Paper.flush(&node).messages)
            }
            #expect(reject(5, hint: 5) == [[2, 4, 1, 0, 5, 6]], "no hint: nextIndex 6 → 5")
            #expect(reject(4, hint: 4) == [[2, 3, 1, 0, 4, 5, 6]], "no hint: nextIndex 5 → 4")
            #expect(reject(5, hint: 5) == [], "a rejection of an append no longer in flight is stale")
            #expect(reject(3, hint: 1, hintTerm: 1) == [[2, 1, 1, 0, 2, 3, 4, 5, 6]], "hint: the follower's entry 1 has term 1")
            node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 2, index: 6))
            Paper.flush(&node)
            #expect(node.progress[2]!.match == 6)
            #expect(reject(5, hint: 0) == [] && node.progress[2]!.next == 7, "never back below matchIndex")
        }

        @Test("Figure 2 Leaders: if there exists an N such that N > commitIndex, a majority of matchIndex[i] ≥ N, and log[N].term == currentTerm: set commitIndex = N, and tell followers in the next AppendEntries (§5.3)")
        func commitsOnMajority() throws {
            let cases: [(size: UInt64, acceptors: Set<NodeID>, isCommitted: Bool)] = [
                (1, [], true), (3, [], false), (3, [2], true), (3, [2, 3], true),
                (5, [], false), (5, [2], false), (5, [2, 3], true), (5, [2, 3, 4], true), (5, [2, 3, 4, 5], true),
            ]
            for (i, c) in cases.enumerated() {
                var node = Paper.steadyLeader(peers: Array(1...c.size))
                let ticket = try node.propose([1])
                let appends = Paper.flush(&node).messages
                for m in appends where c.acceptors.contains(m.to) { node.step(Paper.accept(m)) }
                #expect(node.commitIndex == (c.isCommitted ? ticket.index : 1), "case \(i)")
                guard c.isCommitted && c.size > 1 else { continue }
                let rd = Paper.flush(&node)
                #expect(rd.committedEntries.map(\.index) == [ticket.index], "case \(i)")
                #expect(Set(rd.messages.filter { $0.kind == .appendEntries && $0.commit == ticket.index }.map(\.to))
                        == Set(2...c.size), "case \(i): every follower hears the new commit index")
            }
        }

        @Test("§5.3 Leader Append-Only: a leader never overwrites or deletes entries in its own log, whatever AppendEntries it receives")
        func leaderAppendOnly() throws {
            var node = Paper.steadyLeader()
            _ = try node.propose(Array("x".utf8))
            Paper.flush(&node)
            let log = node.log.entries
            for m in [
                Paper.append(from: 2, to: 1, term: 1, prevIndex: 0, prevTerm: 0, terms: [1]), // an impostor of its own term
                Paper.append(from: 3, to: 1, term: 1, prevIndex: 1, prevTerm: 1, terms: [1, 1]),
                Paper.append(from: 3, to: 1, term: 0, prevIndex: 0, prevTerm: 0, terms: []), // a stale leader
            ] {
                node.step(m)
                Paper.flush(&node)
                #expect(node.role == .leader && node.log.entries == log)
            }
        }
    }
}

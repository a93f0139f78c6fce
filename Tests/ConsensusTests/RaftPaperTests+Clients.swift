import Testing
@testable import Consensus

extension RaftPaperTests {
    @Suite("§5.6 timing, §8 client interaction, dissertation §9.6 pre-vote and check-quorum")
    struct Clients {
        @Test("§5.6 Timing and availability: broadcastTime ≪ electionTimeout ≪ MTBF: the configuration refuses an election timeout that does not exceed the heartbeat interval")
        func timingRequirement() {
            for (heartbeat, election) in [(5, 5), (5, 4), (1, 1)] {
                var config = RaftConfig(id: 1, peers: [1, 2, 3])
                config.heartbeatTicks = heartbeat
                config.electionTimeoutTicks = election
                #expect(throws: ConfigError(reason: "electionTimeoutTicks must exceed heartbeatTicks")) { try config.validate() }
            }
            var config = RaftConfig(id: 1, peers: [1, 2, 3])
            config.heartbeatTicks = 5
            config.electionTimeoutTicks = 6
            #expect(throws: Never.self) { try config.validate() }
            let defaults = RaftConfig(id: 1, peers: [1])
            #expect(defaults.electionTimeoutTicks >= 3 * defaults.heartbeatTicks, "three heartbeats fit in the shortest timeout")
        }

        @Test("§8 Client interaction: a leader commits a blank no-op entry of its term at the start of its term, and so learns which entries are committed")
        func newLeaderCommitsNoop() {
            var node = Paper.leader(term: 2, log: [1, 2]).node
            #expect(node.log.entries.last == Entry(term: 3, index: 3, kind: .noop))
            #expect(!node.hasCommittedInTerm && node.commitIndex == 0)
            node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 3))
            #expect(node.hasCommittedInTerm && node.commitIndex == 3)
        }

        @Test("§8 Read-only operations: a leader serves no read before it has committed an entry of its term")
        func readWaitsForNoop() throws {
            let elected = Paper.leader(term: 2, log: [1, 2])
            var node = elected.node
            try node.readIndex(requestID: 5)
            let early = Paper.flush(&node)
            #expect(early.messages.isEmpty && early.readStates.isEmpty, "no heartbeat round, no answer")
            node.step(Paper.accept(try #require(elected.ready.messages.first)))
            let round = Paper.flush(&node).messages.filter { $0.kind == .heartbeat }
            #expect(round.map(\.to) == [2, 3] && round.allSatisfy { $0.context == 1 })
            node.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: 3, index: 3, context: 1))
            #expect(Paper.flush(&node).readStates == [ReadState(requestID: 5, index: 3)])
        }

        @Test("§8 Read-only operations (ReadIndex): the leader records its commit index, confirms it is still leader by a heartbeat round a majority answers, then answers at the recorded index")
        func readIndexRound() throws {
            var node = Paper.steadyLeader(peers: [1, 2, 3, 4, 5])
            try node.readIndex(requestID: 7)
            let round = Paper.flush(&node)
            #expect(round.messages == (2...5).map { Message(kind: .heartbeat, from: 1, to: $0, term: 1, commit: 1, context: 1) })
            #expect(round.readStates.isEmpty)
            _ = try node.propose([1]) // committed while the round is out: the read still answers at 1
            for m in Paper.flush(&node).messages where m.to == 2 || m.to == 3 { node.step(Paper.accept(m)) }
            #expect(node.commitIndex == 2)
            for (from, context) in [(NodeID(4), UInt64(0)), (2, 1)] {
                node.step(Message(kind: .heartbeatResponse, from: from, to: 1, term: 1, index: 2, context: context))
                #expect(Paper.flush(&node).readStates.isEmpty, "a plain heartbeat answer, then one of five: no majority")
            }
            node.step(Message(kind: .heartbeatResponse, from: 3, to: 1, term: 1, index: 2, context: 1))
            #expect(Paper.flush(&node).readStates == [ReadState(requestID: 7, index: 1)])
        }

        @Test("§8 Read-only operations: a leader that is deposed never answers its pending reads; the host is told they were dropped")
        func deposedLeaderDropsReads() throws {
            var node = Paper.steadyLeader()
            try node.readIndex(requestID: 9)
            Paper.flush(&node)
            node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 2))
            node.step(Message(kind: .heartbeatResponse, from: 3, to: 1, term: 1, index: 1, context: 1)) // late, stale
            let rd = Paper.flush(&node)
            #expect(node.role == .follower)
            #expect(rd.droppedReads == [9] && rd.readStates.isEmpty)
        }

        @Test("Dissertation §9.6 Pre-vote: a server whose election timeout elapses first asks for pre-votes for term + 1, changing neither its term, its vote nor anything on stable storage")
        func preVoteChangesNothing() {
            var node = Paper.node(term: 2, vote: 3, log: [1, 1])
            for _ in 0..<node.randomizedElectionTimeout { node.tick() }
            #expect(ServerState(node) == ServerState(role: .preCandidate, term: 2, vote: 3, leader: 0, commit: 0, logTerms: [1, 1]))
            let rd = Paper.flush(&node)
            #expect(rd.hardState == nil && !rd.mustSync)
            #expect(rd.messages == [2, 3].map { Message(kind: .preVote, from: 1, to: $0, term: 3, logTerm: 1, index: 2) })
        }

        @Test("Dissertation §9.6 Pre-vote: a majority of pre-votes starts the real election in term + 1; a majority of refusals returns the server to follower in its term")
        func preVoteOutcome() {
            func preCandidate() -> RaftNode {
                var node = Paper.node(term: 2, vote: 3, log: [1, 1])
                node.campaign(isTransfer: false)
                Paper.flush(&node)
                return node
            }
            var won = preCandidate()
            won.step(Message(kind: .preVoteResponse, from: 2, to: 1, term: 3))
            #expect(ServerState(won) == ServerState(role: .candidate, term: 3, vote: 1, leader: 0, commit: 0, logTerms: [1, 1]))
            #expect(Paper.flush(&won).messages == [2, 3].map { Message(kind: .requestVote, from: 1, to: $0, term: 3, logTerm: 1, index: 2) })
            var lost = preCandidate()
            for id: NodeID in [2, 3] { lost.step(Message(kind: .preVoteResponse, from: id, to: 1, term: 2, reject: true)) }
            #expect(ServerState(lost) == ServerState(role: .follower, term: 2, vote: 3, leader: 0, commit: 0, logTerms: [1, 1]))
        }

        @Test("Dissertation §9.6 Pre-vote: a server grants a pre-vote when it would grant the vote (the candidate's log is up to date, it hears from no leader), and granting changes none of its state")
        func preVoteGranting() {
            var node = Paper.node(id: 2, term: 2, vote: 1, log: [1, 1])
            let before = ServerState(node)
            var answers: [Message] = []
            for lastIndex: UInt64 in [2, 1] {
                node.step(Message(kind: .preVote, from: 3, to: 2, term: 3, logTerm: 1, index: lastIndex))
                let rd = Paper.flush(&node)
                #expect(rd.hardState == nil)
                answers += rd.messages
            }
            #expect(ServerState(node) == before)
            #expect(answers == [Message(kind: .preVoteResponse, from: 2, to: 3, term: 3),
                                Message(kind: .preVoteResponse, from: 2, to: 3, term: 2, reject: true)])
            node.step(Paper.append(from: 1, to: 2, term: 2, prevIndex: 2, prevTerm: 1))
            Paper.flush(&node)
            node.step(Message(kind: .preVote, from: 3, to: 2, term: 3, logTerm: 1, index: 2))
            #expect(!node.hasReady, "it hears from a leader: no answer")
        }

        @Test("Dissertation §9.6 Check-quorum: a leader that has not heard from a majority within an election timeout steps down, and drops its pending reads")
        func checkQuorum() throws {
            var lonely = Paper.steadyLeader()
            let timeout = lonely.config.electionTimeoutTicks
            try lonely.readIndex(requestID: 4)
            Paper.flush(&lonely)
            for _ in 1..<timeout { lonely.tick() }
            #expect(lonely.role == .leader)
            lonely.tick()
            #expect(ServerState(lonely) == ServerState(role: .follower, term: 1, vote: 1, leader: 0, commit: 1, logTerms: [1]))
            #expect(Paper.flush(&lonely).droppedReads == [4])

            var heard = Paper.steadyLeader()
            for _ in 1..<timeout { heard.tick() }
            heard.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: 1, index: 1))
            heard.tick()
            #expect(heard.role == .leader, "two of three, itself included, within the timeout")
        }

        @Test("Dissertation §9.6 Leader lease: a server that heard from a leader within the election timeout ignores RequestVote and PreVote of a higher term, unless a leadership transfer forces the vote")
        func leaderLease() {
            var node = Paper.node(id: 2, term: 2, log: [1, 1])
            node.step(Paper.append(from: 1, to: 2, term: 2, prevIndex: 2, prevTerm: 1))
            Paper.flush(&node)
            var expired = node
            let before = ServerState(node)
            for kind in [MessageKind.requestVote, .preVote] {
                node.step(Message(kind: kind, from: 3, to: 2, term: 3, logTerm: 1, index: 2))
                #expect(ServerState(node) == before && !node.hasReady, "\(kind)")
            }
            var forced = node
            forced.step(Message(kind: .requestVote, from: 3, to: 2, term: 3, logTerm: 1, index: 2, context: 1))
            #expect(ServerState(forced) == ServerState(role: .follower, term: 3, vote: 3, leader: 0, commit: 0, logTerms: [1, 1]))
            for _ in 0..<node.config.electionTimeoutTicks { expired.tick() }
            Paper.flush(&expired)
            expired.step(Message(kind: .requestVote, from: 3, to: 2, term: 3, logTerm: 1, index: 2))
            #expect(ServerState(expired) == ServerState(role: .follower, term: 3, vote: 3, leader: 0, commit: 0, logTerms: [1, 1]),
                    "the lease ran out")
            var leader = Paper.steadyLeader()
            leader.step(Message(kind: .requestVote, from: 2, to: 1, term: 5, logTerm: 1, index: 1))
            #expect(leader.role == .leader && leader.term == 1, "a leader within its lease ignores it too")
        }
    }
}

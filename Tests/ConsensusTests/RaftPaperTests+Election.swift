import Testing
@testable import Consensus

extension RaftPaperTests {
    @Suite("Figure 2 and §5.2: followers, candidates and leader election")
    struct Election {
        @Test("§5.2 When servers start up, they begin as followers, with the currentTerm and votedFor they persisted and no known leader")
        func startAsFollower() {
            let node = Paper.node(term: 4, vote: 3, commit: 1, log: [1, 4])
            #expect(ServerState(node) == ServerState(role: .follower, term: 4, vote: 3, leader: 0, commit: 1, logTerms: [1, 4]))
            #expect(!node.hasReady)
        }

        @Test("Figure 2 Followers: respond to RPCs from candidates and leaders")
        func followerResponds() {
            var node = Paper.node(id: 2, term: 2, log: [1])
            var answers: [Message] = []
            for request in [
                Message(kind: .preVote, from: 3, to: 2, term: 3, logTerm: 1, index: 1),
                Message(kind: .requestVote, from: 1, to: 2, term: 3, logTerm: 1, index: 1),
                Paper.append(from: 1, to: 2, term: 3, prevIndex: 1, prevTerm: 1, terms: [3]),
                Message(kind: .heartbeat, from: 1, to: 2, term: 3, commit: 2, context: 4),
            ] {
                node.step(request)
                answers += Paper.flush(&node).messages
            }
            #expect(answers == [
                Message(kind: .preVoteResponse, from: 2, to: 3, term: 3),
                Message(kind: .requestVoteResponse, from: 2, to: 1, term: 3),
                Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 2),
                Message(kind: .heartbeatResponse, from: 2, to: 1, term: 3, index: 2, context: 4),
            ])
        }

        @Test("Figure 2 Followers: if election timeout elapses without receiving AppendEntries from current leader or granting vote to candidate: convert to candidate")
        func followerTimesOut() {
            func follower() -> RaftNode { Paper.node(id: 2, term: 2, log: [1], configure: Paper.classic) }
            func tick(_ node: inout RaftNode, _ times: Int) { for _ in 0..<times { node.tick() } }
            var heard = follower()
            let timeout = heard.randomizedElectionTimeout
            tick(&heard, timeout - 1)
            heard.step(Paper.append(from: 1, to: 2, term: 2, prevIndex: 1, prevTerm: 1))
            Paper.flush(&heard)
            tick(&heard, timeout - 1)
            #expect(heard.role == .follower, "an AppendEntries from the leader restarts the timeout")
            tick(&heard, 1)
            #expect(ServerState(heard) == ServerState(role: .candidate, term: 3, vote: 2, leader: 0, commit: 0, logTerms: [1]))

            var granted = follower()
            tick(&granted, timeout - 1)
            granted.step(Message(kind: .requestVote, from: 3, to: 2, term: 2, logTerm: 1, index: 1))
            #expect(Paper.flush(&granted).messages.map(\.reject) == [false])
            tick(&granted, timeout - 1)
            #expect(granted.role == .follower, "granting a vote restarts the timeout")
            tick(&granted, 1)
            #expect(granted.role == .candidate && granted.term == 3)

            var refused = follower()
            tick(&refused, timeout - 1)
            refused.step(Message(kind: .requestVote, from: 3, to: 2, term: 2, logTerm: 0, index: 0))
            #expect(Paper.flush(&refused).messages.map(\.reject) == [true])
            tick(&refused, 1)
            #expect(refused.role == .candidate, "a refused vote does not restart the timeout")
        }

        @Test("Figure 2 Candidates: on conversion to candidate, start election: increment currentTerm, vote for self, reset election timer, send RequestVote RPCs to all other servers (with the last log index and term, §5.4.1)")
        func candidateConversion() {
            var node = Paper.node(term: 2, log: [1, 1, 2], configure: Paper.classic)
            for _ in 0..<node.randomizedElectionTimeout { node.tick() }
            #expect(ServerState(node) == ServerState(role: .candidate, term: 3, vote: 1, leader: 0, commit: 0, logTerms: [1, 1, 2]))
            #expect(node.votes == [1: true])
            #expect(node.electionElapsed == 0)
            #expect((15..<30).contains(node.randomizedElectionTimeout))
            let rd = Paper.flush(&node)
            #expect(rd.hardState == HardState(term: 3, vote: 1, commit: 0) && rd.mustSync)
            #expect(rd.messages == [2, 3].map { Message(kind: .requestVote, from: 1, to: $0, term: 3, logTerm: 2, index: 3) })
        }

        @Test("§5.2 Candidates: if votes received from majority of servers: become leader; a majority of refusals returns the candidate to follower; otherwise it keeps waiting")
        func candidateCountsVotes() {
            let cases: [(size: Int, votes: [(NodeID, Bool)], role: Role)] = [
                (1, [], .leader),
                (3, [(2, true), (3, true)], .leader),
                (3, [(2, true)], .leader),
                (5, [(2, true), (3, true), (4, true), (5, true)], .leader),
                (5, [(2, true), (3, true), (4, true)], .leader),
                (5, [(2, true), (3, true)], .leader),
                (3, [(2, false), (3, false)], .follower),
                (5, [(2, false), (3, false), (4, false), (5, false)], .follower),
                (5, [(2, true), (3, false), (4, false), (5, false)], .follower),
                (3, [], .candidate),
                (5, [(2, true)], .candidate),
                (5, [(2, false), (3, false)], .candidate),
                (5, [(2, true), (2, true)], .candidate), // a repeated vote counts once
                (5, [], .candidate),
            ]
            for (i, c) in cases.enumerated() {
                var node = Paper.node(peers: (1...UInt64(c.size)).map { $0 }, configure: Paper.classic)
                node.campaign(isTransfer: false)
                Paper.flush(&node)
                for (id, granted) in c.votes {
                    node.step(Message(kind: .requestVoteResponse, from: id, to: 1, term: 1, reject: !granted))
                }
                #expect(node.role == c.role && node.term == 1, "case \(i)")
            }
        }

        @Test("Figure 2 Candidates: if AppendEntries RPC received from new leader (§5.2: of a term at least the candidate's): convert to follower",
              arguments: [Role.candidate, .preCandidate], [0, 1] as [UInt64])
        func candidateFallsBack(role: Role, termAhead: UInt64) {
            for kind in [MessageKind.appendEntries, .heartbeat] {
                var node = Paper.node(term: 2, log: [1])
                node.campaign(isTransfer: role == .candidate)
                Paper.flush(&node)
                let before = ServerState(node)
                let t = node.term + termAhead
                let m = kind == .heartbeat
                    ? Message(kind: .heartbeat, from: 2, to: 1, term: t)
                    : Paper.append(from: 2, to: 1, term: t, prevIndex: 1, prevTerm: 1)
                node.step(m)
                // In the same term the candidate keeps its vote (for itself): it cannot vote twice.
                let expected = ServerState(role: .follower, term: t, vote: termAhead == 0 ? before.vote : 0, leader: 2,
                                           commit: 0, logTerms: [1])
                #expect(ServerState(node) == expected, "\(kind)")
            }
        }

        @Test("Figure 2 Candidates: if election timeout elapses: start new election (a new term: no vote of the old one counts)")
        func candidateTimesOut() {
            var node = Paper.node(peers: [1, 2, 3, 4, 5], configure: Paper.classic)
            for _ in 0..<node.randomizedElectionTimeout { node.tick() }
            Paper.flush(&node)
            node.step(Message(kind: .requestVoteResponse, from: 2, to: 1, term: 1))
            #expect(node.role == .candidate && node.term == 1)
            for _ in 0..<node.randomizedElectionTimeout { node.tick() }
            #expect(ServerState(node) == ServerState(role: .candidate, term: 2, vote: 1, leader: 0, commit: 0, logTerms: []))
            #expect(node.votes == [1: true])
            #expect(Paper.flush(&node).messages == (2...5).map { Message(kind: .requestVote, from: 1, to: $0, term: 2) })
            node.step(Message(kind: .requestVoteResponse, from: 2, to: 1, term: 1)) // stale: of term 1
            node.step(Message(kind: .requestVoteResponse, from: 3, to: 1, term: 2))
            #expect(node.role == .candidate, "two of five in term 2: the term-1 vote of node 2 is not carried over")
        }

        @Test("§5.2 Election timeouts are chosen randomly from a fixed interval: every timeout in [T, 2T) occurs, none outside",
              arguments: [Role.follower, .candidate])
        func timeoutsRandomized(role: Role) {
            var node = Paper.node(configure: Paper.classic)
            let base = node.config.electionTimeoutTicks
            var seen: Set<Int> = []
            for _ in 0..<(50 * base) {
                if role == .follower { node.becomeFollower(term: node.term + 1, leader: 0) } else { node.becomeCandidate() }
                let term = node.term
                var ticks = 0
                while node.term == term && ticks <= 3 * base {
                    node.tick()
                    ticks += 1
                }
                seen.insert(ticks)
                Paper.flush(&node)
            }
            #expect(seen == Set(base..<(2 * base)))
        }

        @Test("§5.2 Split votes: when no candidate wins, randomized timeouts let one time out first and win a later term")
        func splitVoteResolves() throws {
            var net = TestNetwork(size: 4, configure: Paper.classic)
            net.nodes[1]!.campaign(isTransfer: false)
            net.nodes[2]!.campaign(isTransfer: false)
            net.drainReady()
            // Node 3 hears candidate 1 first, node 4 hears candidate 2 first: two votes each.
            net.inFlight = net.inFlight.filter { $0.to != 4 } + net.inFlight.filter { $0.to == 4 }.reversed()
            net.stabilize()
            #expect(net.ids.map { net.node($0).role } == [.candidate, .candidate, .follower, .follower])
            #expect(net.ids.map { net.node($0).vote } == [1, 2, 1, 2])
            #expect(net.leader == nil)
            let timeout = net.node(1).config.electionTimeoutTicks
            for _ in 0..<(4 * timeout) where net.leader == nil { net.tickAll(times: 1) }
            let leader = try #require(net.leader)
            #expect(net.ids.filter { net.node($0).role == .leader } == [leader])
            #expect(net.ids.allSatisfy { net.node($0).leader == leader && net.node($0).term > 1 })
        }

        @Test("§5.2 A candidate that learns of a higher term from a rival's RequestVote steps down, and votes for the rival only if its log is up to date")
        func candidateStepsDownForRival() {
            for (rivalLastTerm, granted) in [(UInt64(1), true), (0, false)] {
                var node = Paper.node(term: 2, log: [1], configure: Paper.classic)
                node.campaign(isTransfer: false)
                Paper.flush(&node)
                node.step(Message(kind: .requestVote, from: 2, to: 1, term: 4, logTerm: rivalLastTerm, index: rivalLastTerm))
                #expect(ServerState(node) == ServerState(role: .follower, term: 4, vote: granted ? 2 : 0, leader: 0, commit: 0, logTerms: [1]))
                #expect(Paper.flush(&node).messages == [Message(kind: .requestVoteResponse, from: 1, to: 2, term: 4, reject: !granted)])
            }
        }
    }
}

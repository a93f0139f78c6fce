import Testing
@testable import Consensus

extension RaftPaperTests {
    @Suite("§5.4 Safety: committing entries from previous terms, Figure 8")
    struct Safety {
        @Test("§5.4.2 Only log entries from the leader's current term are committed by counting replicas; once one is, all prior entries are committed indirectly, and applied in log order")
        func commitsOnlyCurrentTerm() {
            for (ackedIndex, commit) in [(UInt64(1), UInt64(0)), (2, 0), (3, 3)] {
                var node = Paper.leader(term: 2, log: [1, 2]).node // leader of term 3, its no-op at index 3
                node.step(Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: ackedIndex))
                #expect(node.commitIndex == commit, "follower 2 holds entries through \(ackedIndex)")
                let applied = Paper.flush(&node).committedEntries
                #expect(applied.map(\.index) == Array(stride(from: 1, through: commit, by: 1)))
                #expect(applied.map(\.term) == Array(([1, 2, 3] as [UInt64]).prefix(Int(commit))))
            }
        }

        /// Figure 8 (a)–(c) on five nodes S1...S5 (terms are one lower than the paper's, as this
        /// core's leaders start with a no-op): S1 leads term 1 and its entry "a" (index 2, term 1)
        /// reaches only S2; S5 leads term 2 alone, with its no-op at index 2; S1 restarts, leads
        /// term 3 and brings "a" to S3, while its term-3 no-op reaches no one but S2.
        static func figureEightThroughC() throws -> TestNetwork {
            var net = TestNetwork(size: 5) {
                Paper.classic(&$0)
                $0.appendEntriesMax = 1
            }
            net.campaign(1)
            for id: NodeID in [3, 4, 5] { net.cut(1, id) }
            _ = try net.propose(1, "a") // (a)
            net.stabilize()
            net.heal()
            net.isolate(1) // S1 crashes
            net.nodes[5]!.campaign(isTransfer: false) // (b): S3 and S4 elect S5; its appends are lost
            net.stabilize(losing: { m, _ in m.kind == .appendEntries && m.from == 5 })
            #expect(net.node(5).role == .leader && Paper.logTerms(net.node(5)) == [1, 2])
            net.heal()
            net.isolate(5) // S5 crashes
            net.cut(1, 4)
            net.restart(1)
            net.campaign(1) // term 2: S3 voted for S5, no majority
            net.nodes[1]!.campaign(isTransfer: false) // (c): term 3
            net.stabilize(losing: { m, receiver in
                m.kind == .appendEntries && m.to != 2 && m.entries.contains { $0.term == 3 } && receiver.term(at: m.index) == m.logTerm
            })
            #expect(net.node(1).role == .leader && net.node(1).term == 3)
            #expect([1, 2, 3].map { Paper.logTerms(net.node($0)) } == [[1, 1, 3], [1, 1, 3], [1, 1]])
            return net
        }

        @Test("§5.4.2 Figure 8 (c)–(d): an entry from a previous term stored on a majority is not committed, because a later leader can still overwrite it")
        func figureEightOverwrite() throws {
            var net = try Self.figureEightThroughC()
            #expect(net.node(1).commitIndex == 1, "\"a\" is on S1, S2 and S3, but of term 1: not committed by counting")
            net.heal()
            net.isolate(1) // (d): S1 crashes, S5 restarts and is elected by S3 and S4
            net.restart(5)
            net.campaign(5) // term 3: S2 and S3 voted for S1
            net.campaign(5) // term 4
            #expect(net.node(5).role == .leader && net.node(5).term == 4)
            #expect([2, 3, 4, 5].map { net.node($0).term(at: 2) } == [2, 2, 2, 2], "\"a\" is overwritten")
            #expect(net.node(5).commitIndex == 3)
            #expect(net.ids.allSatisfy { net.appliedData($0).isEmpty }, "no server ever applied \"a\"")
        }

        @Test("§5.4.2 Figure 8 (e): once an entry of the leader's term is on a majority, it and \"a\" before it are committed, and no server without them can be elected")
        func figureEightCommit() throws {
            var net = try Self.figureEightThroughC()
            net.tick(1, times: net.node(1).config.heartbeatTicks) // the heartbeat answer shows S3 lacks index 3
            net.stabilize()
            #expect(net.node(1).commitIndex == 3)
            #expect([1, 2, 3].map { net.appliedData($0) } == [["a"], ["a"], ["a"]])
            net.heal()
            net.isolate(1)
            net.restart(5)
            net.campaign(5)
            net.campaign(5)
            #expect(net.node(5).role != .leader, "S2 and S3 hold index 3 of term 3 and refuse S5")
            #expect(net.ids.allSatisfy { net.node($0).role != .leader || $0 == 1 })
        }
    }

    @Suite("§5.2–§5.4 Safety properties (Figure 3), checked on every state of seeded chaos runs")
    struct Properties {
        /// One run a seed, shared by the five tests (each checks its own property on it).
        static let reports: [ChaosReport] = [1, 2].map { ChaosReport(seed: $0, rounds: 150) }

        @Test("§5.2 Election Safety: at most one leader can be elected in a given term", arguments: reports)
        func electionSafety(report: ChaosReport) {
            #expect(report.electionSafety.isEmpty)
            #expect(report.leaderTerms >= 5, "the run held elections")
        }

        @Test("§5.3 Log Matching: if two logs contain an entry with the same index and term, then the logs are identical in all entries up through the given index", arguments: reports)
        func logMatching(report: ChaosReport) {
            #expect(report.logMatching.isEmpty)
            #expect(report.longestLog >= 20, "the run replicated entries")
        }

        @Test("§5.3 Leader Append-Only: a leader never overwrites or deletes entries in its log; it only appends new entries", arguments: reports)
        func leaderAppendOnly(report: ChaosReport) {
            #expect(report.leaderAppendOnly.isEmpty)
            #expect(report.leaderTerms >= 5)
        }

        @Test("§5.4 Leader Completeness: if a log entry is committed in a given term, then that entry will be present in the logs of the leaders for all higher-numbered terms", arguments: reports)
        func leaderCompleteness(report: ChaosReport) {
            #expect(report.leaderCompleteness.isEmpty)
            #expect(report.committed >= 20)
        }

        @Test("§5.4.3 State Machine Safety: if a server has applied a log entry at a given index to its state machine, no other server will ever apply a different log entry for the same index", arguments: reports)
        func stateMachineSafety(report: ChaosReport) {
            #expect(report.stateMachineSafety.isEmpty)
            #expect(report.applied >= 20, "the run applied entries")
        }
    }
}

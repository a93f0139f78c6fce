import Testing
@testable import Consensus

/// The witness's rules, one by one (docs/witness.md): its vote, the leader's quorum rule, what
/// it is told and stores, and that it never leads.
@Suite("Witness: the rules")
struct WitnessTests {
    static let configuration = Configuration.make(voters: [1, 2], witness: 3)

    /// Witness 3 of {1, 2, witness 3}, started from a stored term and mark.
    static func witness(term: UInt64, mark: LogMark) -> RaftNode {
        try! RaftNode(config: RaftConfig(id: 3, initialConfiguration: configuration),
                      persisted: PersistedState(hardState: HardState(term: term, witnessMark: mark)))
    }

    /// What witness `node` answers to a vote request of `kind` from a candidate whose log ends at `end`.
    static func answer(_ node: inout RaftNode, _ kind: MessageKind, end: LogMark) -> Message? {
        node.step(Message(kind: kind, from: 2, to: 3, term: node.term + 1, logTerm: end.term, index: end.index))
        let rd = node.ready()
        node.advance()
        return rd.messages.first
    }

    @Test("a witness grants a vote only to a candidate whose log reaches its commit mark", arguments: [MessageKind.preVote, .requestVote])
    func voteRule(kind: MessageKind) throws {
        let mark = LogMark(term: 5, index: 10)
        let cases: [(LogMark, Bool)] = [
            (LogMark(term: 5, index: 9), false), (LogMark(term: 4, index: 100), false), (LogMark(term: 0, index: 0), false),
            (LogMark(term: 5, index: 10), true), (LogMark(term: 5, index: 11), true), (LogMark(term: 6, index: 1), true),
        ]
        for (end, isGranted) in cases {
            var node = Self.witness(term: 5, mark: mark)
            let answer = try #require(Self.answer(&node, kind, end: end))
            #expect(answer.reject == !isGranted, "candidate ending at \(end)")
            #expect(node.refusals.votesBehindWitnessMark == (isGranted ? 0 : 1))
            if kind == .requestVote { #expect(node.vote == (isGranted ? 2 : 0)) }
        }
    }

    @Test("the leader counts the witness only while a full voter is unreachable")
    func quorumRule() throws {
        var net = TestNetwork(configuration: Self.configuration)
        net.elect(1)
        let engageTicks = net.node(1).config.effectiveWitnessEngageTicks
        net.drop(.appendResponse) // 2 answers heartbeats, so it is reachable, but its acknowledgements are lost
        let held = try net.propose(1, "held")
        net.tickAll(times: 3 * engageTicks)
        #expect(net.node(1).role == .leader && !net.node(1).isWitnessEngaged)
        #expect(net.node(1).commitIndex < held.index, "the witness may not stand in for a reachable full voter")
        #expect(!net.sent.contains { $0.kind == .witnessAppend }, "and is told nothing")
        #expect(net.node(3).witnessMark == .zero)
        net.heal()
        net.tickAll(times: net.node(1).config.heartbeatTicks)
        #expect(net.node(1).commitIndex >= held.index)
        net.isolate(2)
        let alone = try net.propose(1, "alone")
        net.stabilize()
        var rounds = 0
        while net.node(1).commitIndex < alone.index && rounds < 3 * engageTicks {
            net.tickAll(times: 1)
            rounds += 1
        }
        #expect(net.node(1).commitIndex >= alone.index && net.node(1).isWitnessEngaged)
        #expect(rounds > net.node(1).config.heartbeatTicks && rounds <= engageTicks + 1, "after \(rounds) ticks: once 2 is unreachable")
        #expect(net.node(3).witnessMark == LogMark(term: net.node(1).term, index: alone.index))
        net.heal()
        net.tickAll(times: 2 * net.node(1).config.heartbeatTicks)
        #expect(!net.node(1).isWitnessEngaged, "released once the full voters are a quorum again")
    }

    @Test("a witness never campaigns or leads, whatever its timer or a TimeoutNow says")
    func neverLeads() {
        var net = TestNetwork(configuration: Self.configuration)
        net.isolate(3)
        net.tick(3, times: 20 * net.node(3).config.electionTimeoutTicks)
        net.nodes[3]!.step(Message(kind: .timeoutNow, from: 1, to: 3, term: 0))
        net.drainReady()
        #expect(net.node(3).role == .follower && net.node(3).term == 0)
        #expect(!net.sent.contains { $0.from == 3 })
    }

    @Test("a witness stores only its term, vote and mark: no entries, no snapshot, nothing applied")
    func constantStorage() throws {
        var net = TestNetwork(configuration: Self.configuration)
        net.elect(1)
        net.isolate(2)
        for i in 0..<40 { _ = try net.propose(1, "entry \(i)") }
        let last = net.node(1).lastIndex
        let isCommitted = net.tick(until: { $0.node(1).commitIndex >= last }, limit: 100)
        net.takeSnapshot(1)
        for i in 0..<40 { _ = try net.propose(1, "more \(i)") }
        let isCommittedAgain = net.tick(until: { $0.node(1).commitIndex == $0.node(1).lastIndex }, limit: 20)
        #expect(isCommitted && isCommittedAgain)
        let stored = try net.storages[3]!.load()
        #expect(stored.entries.isEmpty && stored.snapshot == nil && net.applied[3]!.isEmpty)
        #expect(stored.hardState.term == net.node(1).term && stored.hardState.commit == 0)
        #expect(stored.hardState.witnessMark == LogMark(term: net.node(1).term, index: net.node(1).lastIndex))
        #expect(net.node(3).lastIndex == 0 && net.node(3).commitIndex == 0)
    }

    @Test("a witness makes its mark durable (a synced hard state) before its acknowledgement leaves")
    func markDurableBeforeAck() {
        var node = Self.witness(term: 5, mark: .zero)
        node.step(Message(kind: .witnessAppend, from: 1, to: 3, term: 5, logTerm: 5, index: 9))
        let rd = node.ready()
        #expect(rd.hardState?.witnessMark == LogMark(term: 5, index: 9) && rd.mustSync)
        #expect(rd.entries.isEmpty && rd.messages.map(\.kind) == [.appendResponse] && rd.messages.first?.index == 9)
        node.advance()
        node.step(Message(kind: .witnessAppend, from: 1, to: 3, term: 5, logTerm: 4, index: 50)) // behind the mark in log order
        #expect(node.witnessMark == LogMark(term: 5, index: 9), "the mark never goes back")
    }

    @Test("the leader tells the witness only its durable log end, never entries it has not persisted")
    func durableEndOnly() throws {
        var net = TestNetwork(configuration: Self.configuration)
        net.elect(1)
        net.isolate(2)
        let isEngaged = net.tick(until: { $0.node(1).isWitnessEngaged }, limit: 40)
        #expect(isEngaged)
        let ticket = try net.propose(1, "z")
        var rd = net.nodes[1]!.ready()
        #expect(rd.entries.map(\.index) == [ticket.index])
        #expect(!rd.messages.contains { $0.kind == .witnessAppend && $0.index >= ticket.index }, "z is not durable yet")
        try net.storages[1]!.save(hardState: rd.hardState, entries: rd.entries, mustSync: rd.mustSync)
        net.nodes[1]!.advance()
        rd = net.nodes[1]!.ready()
        let told = rd.messages.filter { $0.kind == .witnessAppend }
        #expect(told.map(\.index) == [ticket.index] && told.map(\.logTerm) == [ticket.term] && told.allSatisfy(\.entries.isEmpty))
        net.nodes[1]!.advance()
    }
}

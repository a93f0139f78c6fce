@testable import Consensus

// Shared by FuzzTests and the libFuzzer target in bench/fuzz.

/// Nodes in every role, reached by real elections and replication on a `TestNetwork`, for the
/// fuzz tests to copy and attack. Every node is between batches (ready to take input).
enum RoleFixtures {
    /// A named node.
    struct Fixture: Sendable {
        var name: String
        var node: RaftNode
    }

    /// Every fixture, in a fixed order.
    static func make() -> [Fixture] {
        var fixtures: [Fixture] = []
        func add(_ name: String, _ node: RaftNode) { fixtures.append(Fixture(name: name, node: node)) }

        var net = TestNetwork(size: 3)
        add("fresh follower", net.node(2))
        var probing = net
        probing.drop(.appendResponse)
        probing.campaign(1)
        add("new leader, followers in probe", probing.node(1))
        net.campaign(1)
        for i in 0..<5 { _ = try! net.propose(1, "e\(i)") }
        net.stabilize()
        add("leader, followers in replicate", net.node(1))
        add("follower with a log", net.node(2))

        var candidates = net
        candidates.nodes[2]!.campaign(isTransfer: false)
        add("pre-candidate", candidates.node(2))
        candidates.nodes[3]!.campaign(isTransfer: true)
        add("candidate", candidates.node(3))

        net.isolate(3)
        for i in 0..<4 { _ = try! net.propose(1, "f\(i)") }
        net.stabilize()
        add("leader, one follower lagging", net.node(1))

        net.takeSnapshot(1)
        net.heal()
        net.drop(.installSnapshot)
        net.tickAll(times: 6) // a heartbeat answer shows 3 behind the compacted log
        add("leader, one follower in snapshot state", net.node(1))
        net.heal()
        net.tickAll(times: 40) // the leader sends the snapshot again after an election timeout
        add("follower that installed a snapshot", net.node(3))
        add("leader after a snapshot", net.node(1))

        var mixed = TestNetwork(size: 4) { $0.initialConfiguration = roles }
        mixed.campaign(1)
        for i in 0..<3 { _ = try! mixed.propose(1, "m\(i)") }
        mixed.stabilize()
        mixed.isolate(2)
        mixed.tickAll(times: 20) // 2 goes unheard: the leader engages the witness
        add("leader with a learner and an engaged witness", mixed.node(1))
        add("witness with a mark", mixed.node(3))
        add("learner", mixed.node(4))

        let limits = MessageLimits.standard
        add("follower at termMax - 1", node(term: limits.termMax - 1))
        add("follower with a poisoned term", node(term: UInt64.max))
        return fixtures
    }

    /// Full voters 1 and 2, witness 3, learner 4.
    static let roles = try! Configuration([
        Member(id: 1, role: .voter), Member(id: 2, role: .voter), Member(id: 3, role: .witness), Member(id: 4, role: .learner),
    ])

    /// Node 2 of three, started from a stored log of three entries and hard-state `term`.
    static func node(term: UInt64) -> RaftNode {
        let entries = (1...3).map { Entry(term: 1, index: UInt64($0), data: [UInt8($0)]) }
        let persisted = PersistedState(hardState: HardState(term: term, vote: 0, commit: 2), entries: entries)
        return try! RaftNode(config: RaftConfig(id: 2, peers: [1, 2, 3]), persisted: persisted)
    }
}

import Testing
@testable import Consensus
import SeededRandom

/// Seeded runs of configuration changes among proposals, partitions, crashes and snapshots,
/// with node 4 joining as a learner and node 5 as a witness: whatever happens, no two nodes
/// apply different entries at an index, and once the network heals the cluster elects a
/// leader and agrees on the configuration.
@Suite("Membership: seeded chaos")
struct MembershipChaosTests {
    static let rounds = 400
    static let witness: NodeID = 5

    /// A change that a host might propose now, drawn from `random`.
    static func change(_ net: TestNetwork, leader: NodeID, using random: inout SeededGenerator) -> ConfigurationChange {
        let configuration = net.node(leader).configuration
        let candidates = net.ids.filter { configuration.member($0) == nil }
        switch Int.random(in: 0..<4, using: &random) {
        case 0 where !candidates.isEmpty:
            let id = candidates.randomElement(using: &random)!
            return id == Self.witness ? .addWitness(id: id, address: "h:5") : .addLearner(id: id, address: "h:\(id)")
        case 1 where !configuration.learnerIDs.isEmpty:
            return .promote(id: configuration.learnerIDs.randomElement(using: &random)!)
        case 2:
            return .demote(id: configuration.fullVoterIDs.randomElement(using: &random)!)
        default:
            return .remove(id: configuration.ids.randomElement(using: &random)!)
        }
    }

    @Test("changes among partitions, crashes and snapshots never make two nodes apply different entries",
          arguments: 1...40)
    func chaos(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        var net = TestNetwork(configuration: .make(voters: [1, 2, 3]), seed: seed)
        net.addNode(4, seed: seed)
        net.addNode(Self.witness, initialConfiguration: .make(voters: [1, 2, 3], witness: Self.witness), seed: seed)
        for _ in 0..<Self.rounds {
            let leader = net.leader.flatMap { net.node($0).role == .leader ? $0 : nil }
            let action = Int.random(in: 0..<10, using: &random)
            switch action {
            case 0:
                guard let leader else { break }
                _ = try? net.change(leader, Self.change(net, leader: leader, using: &random))
            case 1, 2:
                guard let leader else { break }
                _ = try? net.propose(leader, "p")
            case 3:
                net.isolate(net.ids.randomElement(using: &random)!)
            case 4:
                net.heal()
            case 5:
                let id = net.ids.randomElement(using: &random)!
                if net.node(id).appliedIndex > 0 { net.takeSnapshot(id, retainedEntries: UInt64.random(in: 0...2, using: &random)) }
            case 6:
                net.restart(net.ids.randomElement(using: &random)!)
            default:
                net.tickAll(times: 1)
            }
            net.stabilize()
            #expect(net.appliedConflicts == [], "seed \(seed)")
        }
        net.heal()
        let isSettled = net.tick(until: { net in
            guard let leader = net.leader, net.node(leader).role == .leader, !net.node(leader).isConfigurationChangePending else { return false }
            let configuration = net.node(leader).configuration
            let withLogs = configuration.members.filter { $0.role != .witness }.map(\.id) // a witness learns no configuration
            return withLogs.allSatisfy { net.node($0).configuration == configuration && net.node($0).commitIndex == net.node(leader).commitIndex }
        }, limit: 40 * 15)
        #expect(isSettled, "seed \(seed): the healed cluster elects and agrees")
        #expect(net.appliedConflicts == [])
    }
}

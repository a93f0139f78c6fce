import Testing
@testable import Consensus

/// Traps bench/fuzz found, one regression test each.
@Suite("Fuzz findings")
struct FuzzFindingsTests {
    @Test("a snapshot the host finishes writing after a newer one from the leader was installed changes nothing")
    func staleCompactionAfterInstall() throws {
        var net = TestNetwork(size: 3)
        net.campaign(1)
        for i in 0..<3 { _ = try net.propose(1, "a\(i)") }
        net.stabilize()
        let applied = net.node(3).appliedIndex
        let hostsOwn = SnapshotMeta(index: applied, term: try #require(net.node(3).term(at: applied))) // the host starts writing it
        net.isolate(3)
        for i in 0..<10 { _ = try net.propose(1, "b\(i)") }
        net.stabilize()
        net.takeSnapshot(1)
        net.heal()
        net.tickAll(times: 40) // node 3 installs the leader's snapshot meanwhile
        let installed = try #require(net.node(3).snapshotMeta)
        #expect(installed.index > hostsOwn.index)
        net.nodes[3]!.compact(through: hostsOwn, retainedEntries: 1) // trapped: term of a compacted index
        net.nodes[3]!.checkInvariants()
        #expect(net.node(3).snapshotMeta == installed)
        #expect(net.node(3).lastIndex == net.node(1).lastIndex)
    }
}

import Consensus
import TestSupport
import Testing
@testable import TrackerHosting
import TrackerStateMachine

@Suite("Received snapshots at the host boundary")
struct ReceivedSnapshotTests {
    static func machine(commands: Int, seed: UInt64) -> TrackerStateMachine {
        var machine = TrackerStateMachine()
        var workload = RandomWorkload(seed: seed, userCount: 3, groupCount: 2, fileCount: 2)
        for _ in 0..<commands { _ = machine.apply(encoded: workload.next().encode()) }
        return machine
    }

    static func install(_ machine: TrackerStateMachine, from: NodeID, term: UInt64, index: UInt64) -> Message {
        Message(kind: .installSnapshot, from: from, to: 2, term: term,
                snapshot: Snapshot(meta: SnapshotMeta(index: index, term: term), data: machine.snapshot()))
    }

    @Test("a snapshot the core does not take (stale term, or refused) never replaces the one it took in the same batch")
    func onlyTakenSnapshotInstalls() throws {
        let taken = Self.machine(commands: 20, seed: 1)
        let other = Self.machine(commands: 30, seed: 2)
        #expect(taken != other)
        let config = RaftConfig(id: 2, peers: [1, 2, 3])
        var host = try TrackerHost(raftConfig: config, persisted: PersistedState(), options: HostOptions(), hashToken: fakeTokenHash)
        host.receive(Self.install(taken, from: 1, term: 2, index: 5))
        host.receive(Self.install(other, from: 3, term: 1, index: 9)) // a stale leader's
        var refused = Self.install(other, from: 1, term: 2, index: 9)
        refused.snapshot!.meta.term = 3 // above the message term: refused by validation
        host.receive(refused)
        #expect(host.raft.refusals.lastMessage == .snapshotTermInvalid)
        let batch = host.ready()
        #expect(batch.raft.snapshot?.meta == SnapshotMeta(index: 5, term: 2))
        _ = host.advance()
        #expect(host.machine == taken)
        #expect(host.raft.commitIndex == 5 && host.raft.appliedIndex == 5)
    }
}

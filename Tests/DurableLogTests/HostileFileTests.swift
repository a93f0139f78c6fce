import Consensus
import DurableLog
import Foundation
import Testing

/// Files whose checksums are right but whose numbers are hostile (a forged or attacked disk):
/// loading refuses them with an error, or starts a node that stays safe; nothing traps.
@Suite("FileStorage with hostile numbers")
struct HostileFileTests {
    @Test("a snapshot file claiming index 2^64-1 is refused as damaged instead of overflowing the log's index")
    func snapshotAtMaximalIndex() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        try storage.save(hardState: HardState(term: 1), entries: makeEntries(1...3, term: 1), mustSync: true)
        try SnapshotStore(directory: directory.path).write(Snapshot(meta: SnapshotMeta(index: UInt64.max, term: 1), data: [1]))
        let error = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(error.kind == .corruptSnapshot && error.reason.contains("above the maximum"))
    }

    @Test("a segment file named beyond the highest index is refused as malformed")
    func segmentBeyondMaximalIndex() throws {
        let directory = try TemporaryDirectory()
        #expect(FileManager.default.createFile(atPath: directory.segmentPath(UInt64.max), contents: Data()))
        let error = try #require(throws: DurableLogError.self) { try FileStorage(directory: directory.path).load() }
        #expect(error.kind == .badSegments && error.reason == "malformed segment file name")
    }

    @Test("a stored hard state with term 2^64-1 loads, and the node refuses to campaign instead of trapping")
    func poisonedTermLoads() throws {
        let directory = try TemporaryDirectory()
        try FileStorage(directory: directory.path).save(hardState: HardState(term: UInt64.max), entries: makeEntries(1...2, term: 1), mustSync: true)
        let persisted = try FileStorage(directory: directory.path).load()
        var node = try RaftNode(config: RaftConfig(id: 1, peers: [1, 2, 3]), persisted: persisted)
        for _ in 0..<100 { node.tick() }
        #expect(node.role == .follower && node.term == UInt64.max)
        #expect(node.refusals.lastCampaign == .termExhausted)
    }

    @Test("a stored log whose terms go down is refused when the node starts")
    func storedTermsGoingDown() throws {
        let directory = try TemporaryDirectory()
        try FileStorage(directory: directory.path).save(hardState: HardState(term: 2),
            entries: makeEntries(1...2, term: 2) + makeEntries(3...3, term: 1), mustSync: true)
        let persisted = try FileStorage(directory: directory.path).load()
        #expect(throws: StoredStateError.self) { _ = try RaftNode(config: RaftConfig(id: 1, peers: [1, 2, 3]), persisted: persisted) }
    }
}

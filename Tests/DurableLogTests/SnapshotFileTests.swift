import Consensus
import DurableLog
import Foundation
import Testing

@Suite("Snapshot files and compaction")
struct SnapshotFileTests {
    func snapshotPath(_ directory: TemporaryDirectory, _ index: UInt64) -> String {
        let digits = String(index)
        return directory.path + "/snapshot-" + String(repeating: "0", count: 20 - digits.count) + digits + ".snap"
    }

    @Test("a snapshot survives a reopen; only the entries after it are loaded; covered segments are deleted")
    func snapshotAndCompaction() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path, segmentBytesTarget: 1)
        _ = try storage.load()
        for index in UInt64(1)...30 { try storage.save(hardState: nil, entries: makeEntries(index...index, term: 2), mustSync: true) }
        let snapshot = Snapshot(meta: SnapshotMeta(index: 20, term: 2), data: [1, 2, 3])
        try storage.saveSnapshot(snapshot)
        #expect(try directory.segmentNames().count == 10, "segments 1...20 are deleted, 21...30 stay")
        try storage.save(hardState: nil, entries: makeEntries(31...32, term: 2), mustSync: true)
        let loaded = try FileStorage(directory: directory.path).load()
        #expect(loaded.snapshot == snapshot)
        #expect(loaded.entries == makeEntries(21...32, term: 2))
    }

    @Test("installing a snapshot the log disagrees with discards the log; appends continue after the snapshot")
    func conflictingLogDiscarded() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        _ = try storage.load()
        try storage.save(hardState: nil, entries: makeEntries(1...10, term: 1), mustSync: true)
        let snapshot = Snapshot(meta: SnapshotMeta(index: 8, term: 3), data: [9])
        try storage.saveSnapshot(snapshot)
        #expect(try directory.segmentNames().isEmpty)
        try storage.save(hardState: nil, entries: makeEntries(9...11, term: 3), mustSync: true)
        let loaded = try FileStorage(directory: directory.path).load()
        #expect(loaded.snapshot == snapshot)
        #expect(loaded.entries == makeEntries(9...11, term: 3))
    }

    @Test("a crash between writing a snapshot and discarding a conflicting log is repaired on load")
    func crashAfterSnapshotWrite() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        _ = try storage.load()
        try storage.save(hardState: nil, entries: makeEntries(1...10, term: 1), mustSync: true)
        // Only the snapshot file reached the disk.
        try SnapshotStore(directory: directory.path).write(Snapshot(meta: SnapshotMeta(index: 8, term: 3), data: [5]))
        let loaded = try FileStorage(directory: directory.path).load()
        #expect(loaded.snapshot?.meta == SnapshotMeta(index: 8, term: 3))
        #expect(loaded.entries.isEmpty, "entries 9 and 10 of term 1 conflict with the snapshot's history")
    }

    @Test("a damaged newest snapshot falls back to the older one; with none intact, load refuses and names the file")
    func damagedSnapshots() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        _ = try storage.load()
        try storage.save(hardState: nil, entries: makeEntries(1...10, term: 1), mustSync: true)
        let older = Snapshot(meta: SnapshotMeta(index: 4, term: 1), data: Array(repeating: 4, count: 100))
        let newer = Snapshot(meta: SnapshotMeta(index: 8, term: 1), data: Array(repeating: 8, count: 100))
        try storage.saveSnapshot(older)
        try storage.saveSnapshot(newer)
        try flipBit(snapshotPath(directory, 8), atByte: 60)
        let fallback = try FileStorage(directory: directory.path).load()
        #expect(fallback.snapshot == older)
        #expect(fallback.entries == makeEntries(5...10, term: 1))
        try truncateFile(snapshotPath(directory, 4), toBytes: 50) // half-written
        #expect {
            _ = try FileStorage(directory: directory.path).load()
        } throws: { error in
            guard let error = error as? DurableLogError else { return false }
            return error.kind == .corruptSnapshot && error.description.contains("snapshot-00000000000000000008.snap")
        }
    }

    @Test("only the newest two snapshots are kept")
    func oldSnapshotsPruned() throws {
        let directory = try TemporaryDirectory()
        let store = SnapshotStore(directory: directory.path)
        for index in UInt64(1)...5 { try store.write(Snapshot(meta: SnapshotMeta(index: index, term: 1), data: [UInt8(index)])) }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".snap") }.sorted()
        #expect(names == ["snapshot-00000000000000000004.snap", "snapshot-00000000000000000005.snap"])
        #expect(try store.loadNewest().snapshot?.data == [5])
    }
}

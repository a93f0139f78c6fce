import BinaryCoding
import Consensus
@testable import DurableLog
import Foundation
import Testing

/// The versioned files: snapshot files (version 2 carries the configuration) and the hard
/// state (version 2 carries a witness's mark). Version 1 files still load.
@Suite("Snapshot and hard state format versions")
struct FormatVersionTests {
    static let configuration = try! Configuration([
        Member(id: 1, role: .voter, incarnation: 11, address: "10.0.0.1:7001"),
        Member(id: 2, role: .learner, incarnation: 12, address: "10.0.0.2:7001"),
        Member(id: 3, role: .witness, incarnation: 13, address: "10.0.0.3:7001"),
    ])

    /// A version 1 snapshot file, as the previous release wrote it.
    static func versionOneSnapshot(index: UInt64, term: UInt64, data: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeRaw(Array("RSNP".utf8))
        writer.write(UInt16(1))
        writer.write(index)
        writer.write(term)
        writer.write(UInt64(data.count))
        writer.writeRaw(data)
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    @Test("a snapshot's configuration survives writing and reopening; one without a configuration loads without one")
    func snapshotRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        _ = try storage.load()
        try storage.save(hardState: HardState(term: 2), entries: makeEntries(1...6, term: 2), mustSync: true)
        let with = Snapshot(meta: SnapshotMeta(index: 4, term: 2, configuration: Self.configuration), data: [4, 4])
        try storage.saveSnapshot(with)
        #expect(try FileStorage(directory: directory.path).load().snapshot == with)
        let without = Snapshot(meta: SnapshotMeta(index: 5, term: 2), data: [5])
        try storage.saveSnapshot(without)
        let loaded = try FileStorage(directory: directory.path).load()
        #expect(loaded.snapshot == without && loaded.snapshot?.meta.configuration == nil)
        #expect(loaded.entries == makeEntries(6...6, term: 2))
    }

    @Test("a version 1 snapshot file still loads, with no configuration")
    func versionOneSnapshotLoads() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/snapshot-00000000000000000007.snap"
        try Data(Self.versionOneSnapshot(index: 7, term: 3, data: [1, 2, 3])).write(to: URL(fileURLWithPath: path))
        let loaded = try FileStorage(directory: directory.path).load()
        #expect(loaded.snapshot == Snapshot(meta: SnapshotMeta(index: 7, term: 3), data: [1, 2, 3]))
    }

    @Test("a checksummed snapshot file whose configuration or version is invalid is refused, naming the file")
    func invalidConfigurationRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/snapshot-00000000000000000007.snap"
        var bytes = SnapshotStore.encode(Snapshot(meta: SnapshotMeta(index: 7, term: 3, configuration: Self.configuration), data: [9]))
        bytes[4 + 2 + 8 + 8 + 4 + 1] = 0 // the configuration's member count: a configuration without members
        for damage in [bytes, Self.versionOneSnapshot(index: 7, term: 3, data: []).replacing(at: 5, with: 3)] {
            var file = Array(damage.dropLast(4))
            file.append(contentsOf: withUnsafeBytes(of: CRC32C.checksum(file).bigEndian) { Array($0) })
            try Data(file).write(to: URL(fileURLWithPath: path))
            #expect {
                _ = try FileStorage(directory: directory.path).load()
            } throws: { error in
                (error as? DurableLogError)?.kind == .corruptSnapshot && "\(error)".contains("snapshot-00000000000000000007.snap")
            }
        }
    }

    @Test("a witness mark survives reopening, and a change of the mark alone is written (with the term and vote rule: durably)")
    func witnessMarkRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let storage = try FileStorage(directory: directory.path)
        _ = try storage.load()
        let first = HardState(term: 4, vote: 1, commit: 0, witnessMark: LogMark(term: 4, index: 10))
        try storage.save(hardState: first, entries: [], mustSync: true)
        #expect(try FileStorage(directory: directory.path).load().hardState == first)
        var second = first
        second.witnessMark = LogMark(term: 4, index: 11) // same term and vote
        try storage.save(hardState: second, entries: [], mustSync: true)
        #expect(try FileStorage(directory: directory.path).load().hardState == second)
        #expect(try fileSize(directory.hardStatePath) == 48)
    }

    @Test("a version 1 hard state file still loads, with no witness mark")
    func versionOneHardStateLoads() throws {
        let directory = try TemporaryDirectory()
        var writer = ByteWriter()
        writer.write(UInt32(0x5248_5331)) // "RHS1"
        writer.write(UInt64(6))
        writer.write(UInt64(2))
        writer.write(UInt64(3))
        writer.write(CRC32C.checksum(writer.bytes))
        try Data(writer.bytes).write(to: URL(fileURLWithPath: directory.hardStatePath))
        #expect(try FileStorage(directory: directory.path).load().hardState == HardState(term: 6, vote: 2, commit: 3))
        var forged = writer.bytes
        forged[3] = 0x32 // "RHS2" in a 32-byte file
        forged = Array(forged.dropLast(4))
        forged.append(contentsOf: withUnsafeBytes(of: CRC32C.checksum(forged).bigEndian) { Array($0) })
        try Data(forged).write(to: URL(fileURLWithPath: directory.hardStatePath))
        #expect(throws: DurableLogError.self) { _ = try FileStorage(directory: directory.path).load() }
    }
}

extension Array where Element == UInt8 {
    /// A copy with the byte at `offset` replaced.
    func replacing(at offset: Int, with byte: UInt8) -> [UInt8] {
        var copy = self
        copy[offset] = byte
        return copy
    }
}

import BinaryCoding
import Consensus
@testable import DurableLog
import TestSupport
import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

/// Every decoder of bytes from a peer, a client or a file, fed the same arbitrary bytes: each
/// must throw or return, never trap. `sealed` wraps the bytes with valid lengths and checksums
/// first, so the decoders behind the checksums (log records, hard state, snapshot files,
/// tracker snapshots) are reached too.
enum DecoderTargets {
    /// A state machine with users, groups and files, to apply decoded commands to.
    static let populated: TrackerStateMachine = {
        var machine = TrackerStateMachine()
        var workload = RandomWorkload(seed: 3, userCount: 4, groupCount: 2, fileCount: 2)
        for _ in 0..<40 { _ = machine.apply(encoded: workload.next().encode()) }
        return machine
    }()

    static func run(_ bytes: [UInt8]) {
        if let message = try? RaftCodec.decodeMessage(bytes) {
            precondition(RaftCodec.encode(message) == bytes, "Raft decoding is not the inverse of encoding")
            _ = message.validationError(linkPeer: message.from, selfID: message.to)
        }
        var reader = ByteReader(bytes)
        _ = try? RaftCodec.decodeEntry(from: &reader)
        _ = try? ServiceCodec.decodeRequest(bytes)
        _ = try? ServiceCodec.decodeResponse(bytes)
        _ = try? ServiceFrame.untagged(bytes)
        _ = try? SnapshotTransfer.decode(bytes)
        _ = try? ClientCommand.decode(bytes)
        _ = try? ClientQuery.decode(bytes)
        _ = try? CommandEnvelope.decode(bytes)
        _ = try? TrackerResult.decode(bytes)
        var machine = populated
        _ = machine.apply(encoded: bytes)
        machine.checkInvariants()
        if let restored = try? TrackerStateMachine.restore(bytes) { restored.checkInvariants() }
        _ = try? RecordFormat.decodeHardState(bytes, path: "fuzz")
        _ = try? SnapshotStore.decode(bytes, path: "fuzz")
        parseSegment(bytes)
    }

    /// The bytes behind valid checksums: as a log record, a hard state file, a snapshot file
    /// and a tracker snapshot.
    static func runSealed(_ bytes: [UInt8]) {
        var record = ByteWriter()
        record.write(UInt32(truncatingIfNeeded: bytes.count))
        record.write(CRC32C.checksum(bytes))
        record.writeRaw(bytes)
        parseSegment(record.bytes + record.bytes)

        var hardState = Array(bytes.prefix(28))
        hardState += [UInt8](repeating: 0, count: 28 - hardState.count)
        hardState.replaceSubrange(0..<4, with: [0x52, 0x48, 0x53, 0x31])
        var sealedHardState = ByteWriter()
        sealedHardState.writeRaw(hardState)
        sealedHardState.write(CRC32C.checksum(hardState))
        _ = try? RecordFormat.decodeHardState(sealedHardState.bytes, path: "fuzz")

        var file = ByteWriter()
        file.writeRaw(Array("RSNP".utf8))
        file.write(UInt16(1))
        var header = ByteReader(bytes)
        file.write((try? header.readUInt64()) ?? 0)
        file.write((try? header.readUInt64()) ?? 0)
        file.write(UInt64(bytes.count))
        file.writeRaw(bytes)
        file.write(CRC32C.checksum(file.bytes))
        _ = try? SnapshotStore.decode(file.bytes, path: "fuzz")

        var snapshot = ByteWriter()
        snapshot.write(TrackerStateMachine.snapshotMagic)
        snapshot.write(TrackerStateMachine.snapshotVersion)
        snapshot.writeRaw(bytes)
        snapshot.write(UInt64(CRC32C.checksum(snapshot.bytes)))
        if let restored = try? TrackerStateMachine.restore(snapshot.bytes) {
            restored.checkInvariants()
            precondition(restored.snapshot() == snapshot.bytes, "a restored snapshot does not encode back to its bytes")
        }
    }

    /// What `FileStorage` does with a segment's bytes: records one after another, and on
    /// damage the search for a good record after it.
    static func parseSegment(_ bytes: [UInt8]) {
        var offset = 0
        for _ in 0...bytes.count {
            guard offset < bytes.count else { return }
            switch try? RecordFormat.parseRecord(bytes, at: offset, path: "fuzz") {
            case let .record(_, end)?:
                precondition(end > offset && end <= bytes.count, "record parser went backwards or past the end")
                offset = end
            case .damaged?:
                _ = RecordFormat.hasValidRecord(bytes, after: offset)
                return
            case nil:
                return
            }
        }
    }
}

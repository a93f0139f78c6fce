import BinaryCoding
import Consensus

/// The on-disk forms: log records and the hard state file. All integers are big-endian.
///
/// A record is `u32 length | u32 crc32c(payload) | payload`, the payload being
/// `RaftCodec.encode(entry)`. The hard state file is `magic "RHS2" | u64 term | u64 vote |
/// u64 commit | u64 witness mark term | u64 witness mark index | u32 crc32c(of the 44 bytes
/// before it)`; version 1 (`"RHS1"`, 32 bytes, no witness mark) is still read.
enum RecordFormat {
    /// Bytes before a record's payload: length and checksum.
    static let headerBytes = 8
    /// The smallest payload an entry encodes to: term, index, kind, data length.
    static let payloadBytesMin = 8 + 8 + 1 + 4
    /// The largest payload a reader accepts: the codec's largest entry.
    static let payloadBytesMax = payloadBytesMin + RaftCodec.entryDataBytesMax
    /// Bytes in the hard state file.
    static let hardStateBytes = 48
    /// Bytes in a version 1 hard state file.
    static let hardStateBytesVersion1 = 32
    /// The first four bytes of the hard state file, naming its format version.
    static let hardStateMagic: UInt32 = 0x5248_5332  // "RHS2"
    /// The magic of version 1.
    static let hardStateMagicVersion1: UInt32 = 0x5248_5331  // "RHS1"

    /// Appends one record for `entry` to `writer`.
    static func appendRecord(_ entry: Entry, to writer: inout ByteWriter) {
        var payload = ByteWriter(capacity: entry.sizeBytes + 4)
        RaftCodec.encode(entry, into: &payload)
        precondition(payload.bytes.count <= payloadBytesMax, "entry larger than the log accepts")
        writer.write(UInt32(payload.bytes.count))
        writer.write(CRC32C.checksum(payload.bytes))
        writer.writeRaw(payload.bytes)
    }

    /// What is found at an offset in a segment.
    enum Parsed {
        /// A whole record whose checksum matches; the next record starts at `end`.
        case record(Entry, end: Int)
        /// Bytes that do not form a whole, checksummed record: possibly a torn write.
        case damaged(reason: String)
    }

    /// Parses the record at `offset`. A record whose checksum matches but whose payload does
    /// not decode cannot come from a torn write, so it throws instead of returning `.damaged`.
    static func parseRecord(_ bytes: [UInt8], at offset: Int, path: String) throws -> Parsed {
        guard let length = plausibleLength(bytes, at: offset) else {
            if bytes.count - offset < headerBytes { return .damaged(reason: "short record header") }
            let remaining = bytes.count - offset - headerBytes
            let declared = readUInt32(bytes, at: offset)
            if declared <= payloadBytesMax, declared > remaining { return .damaged(reason: "short record payload") }
            return .damaged(reason: "impossible record length \(declared)")
        }
        let payload = bytes[(offset + headerBytes)..<(offset + headerBytes + length)]
        guard CRC32C.checksum(payload) == readUInt32(bytes, at: offset + 4) else {
            return .damaged(reason: "record checksum mismatch")
        }
        var reader = ByteReader(payload)
        do {
            let entry = try RaftCodec.decodeEntry(from: &reader)
            try reader.expectEnd()
            return .record(entry, end: offset + headerBytes + length)
        } catch {
            throw DurableLogError(.corruptRecord, path: path, offset: offset, reason: "undecodable entry: \(error)")
        }
    }

    /// Whether a checksummed record starts at any byte offset after `offset`: a damaged record
    /// followed by a good one is corruption, not a torn tail. Runs only on the recovery path.
    static func hasValidRecord(_ bytes: [UInt8], after offset: Int) -> Bool {
        var candidate = offset + 1
        while candidate + headerBytes + payloadBytesMin <= bytes.count {
            if let length = plausibleLength(bytes, at: candidate) {
                let start = candidate + headerBytes
                if CRC32C.checksum(bytes[start..<(start + length)]) == readUInt32(bytes, at: candidate + 4) {
                    return true
                }
            }
            candidate += 1
        }
        return false
    }

    /// The payload length at `offset` when the header is whole, the length within bounds and
    /// the payload inside the file; nil otherwise.
    private static func plausibleLength(_ bytes: [UInt8], at offset: Int) -> Int? {
        guard bytes.count - offset >= headerBytes else { return nil }
        let length = Int(readUInt32(bytes, at: offset))
        guard length >= payloadBytesMin, length <= payloadBytesMax,
              length <= bytes.count - offset - headerBytes else { return nil }
        return length
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The hard state file's bytes.
    static func encodeHardState(_ state: HardState) -> [UInt8] {
        var writer = ByteWriter(capacity: hardStateBytes)
        writer.write(hardStateMagic)
        writer.write(state.term)
        writer.write(state.vote)
        writer.write(state.commit)
        writer.write(state.witnessMark.term)
        writer.write(state.witnessMark.index)
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Decodes the hard state file (either version), throwing an error naming `path` if it is
    /// damaged.
    static func decodeHardState(_ bytes: [UInt8], path: String) throws -> HardState {
        func damaged(_ reason: String) -> DurableLogError { DurableLogError(.corruptHardState, path: path, reason: reason) }
        guard bytes.count == hardStateBytes || bytes.count == hardStateBytesVersion1 else {
            throw damaged("size \(bytes.count) bytes, expected \(hardStateBytes)")
        }
        guard CRC32C.checksum(bytes[..<(bytes.count - 4)]) == readUInt32(bytes, at: bytes.count - 4) else {
            throw damaged("hard state checksum mismatch")
        }
        var reader = ByteReader(bytes)
        do {
            let magic = try reader.readUInt32()
            let isVersion1 = bytes.count == hardStateBytesVersion1
            guard magic == (isVersion1 ? hardStateMagicVersion1 : hardStateMagic) else { throw damaged("unknown hard state format") }
            var state = HardState(term: try reader.readUInt64(), vote: try reader.readUInt64(), commit: try reader.readUInt64())
            if !isVersion1 { state.witnessMark = LogMark(term: try reader.readUInt64(), index: try reader.readUInt64()) }
            return state
        } catch let error as DurableLogError {
            throw error
        } catch {
            throw damaged("undecodable hard state: \(error)")
        }
    }
}

import BinaryCoding

/// Binary encodings of entries and messages: fixed-width big-endian fields, decoded without
/// trusting the input (every length is bounded, every enum value checked).
///
/// A message is `u8 format (0x82) | u8 kind | u64 from | u64 from incarnation | u64 to |
/// u64 term | u64 log term | u64 index | u64 commit | bool reject | u64 reject hint |
/// u64 context | u32 entry count | entries | bool has snapshot [| u64 index | u64 term |
/// bool has configuration [| blob configuration] | blob data]`. Format 1 had no format byte
/// (it began with the kind, 1...10) and no incarnation or configuration; the high bit of
/// 0x82 keeps the two apart, and format 1 is refused.
public enum RaftCodec {
    /// The first byte of every encoded message: format 2.
    public static let messageFormat: UInt8 = 0x82
    /// The largest entry payload a decoder accepts.
    public static let entryDataBytesMax = 64 << 20
    /// The most entries one message may carry.
    public static let entriesPerMessageMax = 1 << 16
    /// The largest snapshot a decoder accepts.
    public static let snapshotBytesMax = 1 << 30

    /// Appends an entry: term, index, kind, length-prefixed data.
    public static func encode(_ entry: Entry, into writer: inout ByteWriter) {
        writer.write(entry.term)
        writer.write(entry.index)
        writer.write(entry.kind.rawValue)
        writer.writeBlob(entry.data)
    }

    /// Reads an entry written by `encode(_:into:)`.
    public static func decodeEntry(from reader: inout ByteReader) throws -> Entry {
        let term = try reader.readUInt64()
        let index = try reader.readUInt64()
        let kindOffset = reader.position
        guard let kind = EntryKind(rawValue: try reader.readUInt8()) else {
            throw DecodingError("unknown entry kind", offset: kindOffset)
        }
        let data = try reader.readBlob(maxCount: entryDataBytesMax)
        return Entry(term: term, index: index, kind: kind, data: data)
    }

    /// Encodes a message as one self-contained byte string.
    public static func encode(_ message: Message) -> [UInt8] {
        var writer = ByteWriter(capacity: 90 + message.entries.reduce(0) { $0 + $1.sizeBytes + 4 })
        writer.write(messageFormat)
        writer.write(message.kind.rawValue)
        writer.write(message.from)
        writer.write(message.fromIncarnation)
        writer.write(message.to)
        writer.write(message.term)
        writer.write(message.logTerm)
        writer.write(message.index)
        writer.write(message.commit)
        writer.write(message.reject)
        writer.write(message.rejectHint)
        writer.write(message.context)
        writer.write(UInt32(message.entries.count))
        for entry in message.entries { encode(entry, into: &writer) }
        writer.write(message.snapshot != nil)
        if let snapshot = message.snapshot {
            writer.write(snapshot.meta.index)
            writer.write(snapshot.meta.term)
            writer.write(snapshot.meta.configuration != nil)
            if let configuration = snapshot.meta.configuration { writer.writeBlob(configuration.encoded()) }
            writer.writeBlob(snapshot.data)
        }
        return writer.bytes
    }

    /// Decodes a message; any malformed input throws, nothing traps.
    public static func decodeMessage(_ bytes: [UInt8]) throws -> Message {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == messageFormat else { throw DecodingError("unknown message format", offset: 0) }
        guard let kind = MessageKind(rawValue: try reader.readUInt8()) else {
            throw DecodingError("unknown message kind", offset: 1)
        }
        let from = try reader.readUInt64()
        let fromIncarnation = try reader.readUInt64()
        var message = Message(kind: kind, from: from, to: try reader.readUInt64(), term: try reader.readUInt64(),
                              fromIncarnation: fromIncarnation)
        message.logTerm = try reader.readUInt64()
        message.index = try reader.readUInt64()
        message.commit = try reader.readUInt64()
        message.reject = try reader.readBool()
        message.rejectHint = try reader.readUInt64()
        message.context = try reader.readUInt64()
        let count = try reader.readCount(maxCount: entriesPerMessageMax)
        // Reserve no more than the bytes left can hold (an entry takes at least 21), so a short
        // frame claiming 65,536 entries does not allocate for them.
        message.entries.reserveCapacity(min(count, reader.remainingCount / 21))
        for _ in 0..<count { message.entries.append(try decodeEntry(from: &reader)) }
        if try reader.readBool() {
            var meta = SnapshotMeta(index: try reader.readUInt64(), term: try reader.readUInt64())
            if try reader.readBool() {
                meta.configuration = try Configuration(decoding: try reader.readBlob(maxCount: Configuration.encodedBytesMax))
            }
            message.snapshot = Snapshot(meta: meta, data: try reader.readBlob(maxCount: snapshotBytesMax))
        }
        try reader.expectEnd()
        return message
    }
}

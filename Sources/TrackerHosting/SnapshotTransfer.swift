import BinaryCoding

/// Moving a large snapshot between trackers in chunks, resumably: the sender offers it, the
/// receiver answers with the offset it already holds (from an earlier, broken transfer), the
/// sender streams the rest in chunks, then sends the InstallSnapshot message with empty bytes,
/// which the receiver fills from what it assembled.
public enum SnapshotTransfer {
    /// Sender → receiver: u64 index, u64 term, u64 total bytes.
    public static let offerFrame: UInt8 = 19
    /// Receiver → sender: u64 offset to continue from.
    public static let resumeFrame: UInt8 = 20
    /// Sender → receiver: u64 index, u64 term, u64 offset, then the bytes.
    public static let chunkFrame: UInt8 = 21
    /// Bytes per chunk.
    public static let chunkBytes = 1 << 20
    /// Snapshots smaller than this travel inside the Raft message frame.
    public static let inlineBytesMax = 4 << 20

    /// An offer or the header of a chunk.
    public struct Header: Equatable, Sendable {
        public var index: UInt64
        public var term: UInt64
        /// Total bytes (offer) or this chunk's offset (chunk).
        public var value: UInt64

        public init(index: UInt64, term: UInt64, value: UInt64) {
            self.index = index
            self.term = term
            self.value = value
        }
    }

    /// Encodes a header, followed by `body`.
    public static func encode(_ header: Header, body: ArraySlice<UInt8> = []) -> [UInt8] {
        var w = ByteWriter(capacity: 24 + body.count)
        w.write(header.index)
        w.write(header.term)
        w.write(header.value)
        w.writeRaw(body)
        return w.bytes
    }

    /// Decodes a header and the bytes after it.
    public static func decode(_ payload: [UInt8]) throws -> (Header, ArraySlice<UInt8>) {
        var r = ByteReader(payload)
        let header = Header(index: try r.readUInt64(), term: try r.readUInt64(), value: try r.readUInt64())
        return (header, payload[24...])
    }
}

/// Big-endian, fixed-width binary encoding shared by the cores (log entries, commands,
/// snapshots), the disk formats and the wire protocol.
///
/// Writers never fail. Readers never trap on bad input: every read is bounds-checked and throws
/// `DecodingError` naming what was being read, so bytes from a disk or a socket can be decoded
/// without risk to the process.

/// Why a byte sequence could not be decoded.
public struct DecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A constant description of what was wrong, e.g. "truncated".
    public var reason: String
    /// Byte offset in the input where the problem was found.
    public var offset: Int

    /// Makes an error with a reason and the offset it was found at.
    public init(_ reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Appends big-endian values to a growing byte array.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Makes an empty writer, reserving `capacity` bytes.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends one byte.
    public mutating func write(_ value: UInt8) { bytes.append(value) }

    /// Appends a Boolean as one byte, 0 or 1.
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends a 16-bit value, big-endian.
    public mutating func write(_ value: UInt16) { writeBigEndian(UInt64(value), byteCount: 2) }

    /// Appends a 32-bit value, big-endian.
    public mutating func write(_ value: UInt32) { writeBigEndian(UInt64(value), byteCount: 4) }

    /// Appends a 64-bit value, big-endian.
    public mutating func write(_ value: UInt64) { writeBigEndian(value, byteCount: 8) }

    /// Appends a signed 64-bit value as its two's complement bit pattern, big-endian.
    public mutating func write(_ value: Int64) { writeBigEndian(UInt64(bitPattern: value), byteCount: 8) }

    /// Appends raw bytes with no length prefix.
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 { bytes.append(contentsOf: raw) }

    /// Appends a 32-bit length followed by the bytes.
    public mutating func writeBlob<C: Collection>(_ blob: C) where C.Element == UInt8 {
        write(UInt32(blob.count))
        bytes.append(contentsOf: blob)
    }

    /// Appends a string as a length-prefixed UTF-8 blob.
    public mutating func write(_ string: String) { writeBlob(Array(string.utf8)) }

    private mutating func writeBigEndian(_ value: UInt64, byteCount: Int) {
        var shift = (byteCount - 1) * 8
        while shift >= 0 {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            shift -= 8
        }
    }
}

/// Reads big-endian values from a byte buffer, throwing `DecodingError` on truncation or on a
/// length larger than the caller allows.
public struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    /// Index of the next unread byte in the underlying buffer.
    public private(set) var position: Int

    /// Makes a reader over `bytes`, starting at their first byte.
    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    /// Makes a reader over a slice, starting at its first byte.
    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// Bytes not read yet.
    public var remainingCount: Int { bytes.endIndex - position }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position == bytes.endIndex }

    /// Throws unless every byte has been read: trailing garbage is an error.
    public func expectEnd() throws {
        if !isAtEnd { throw DecodingError("trailing bytes", offset: position - bytes.startIndex) }
    }

    /// Reads one byte.
    public mutating func readUInt8() throws -> UInt8 { UInt8(try readBigEndian(byteCount: 1, what: "u8")) }

    /// Reads a Boolean stored as 0 or 1; any other byte is an error.
    public mutating func readBool() throws -> Bool {
        let start = position
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        default: throw DecodingError("bad boolean", offset: start - bytes.startIndex)
        }
    }

    /// Reads a big-endian 16-bit value.
    public mutating func readUInt16() throws -> UInt16 { UInt16(try readBigEndian(byteCount: 2, what: "u16")) }

    /// Reads a big-endian 32-bit value.
    public mutating func readUInt32() throws -> UInt32 { UInt32(try readBigEndian(byteCount: 4, what: "u32")) }

    /// Reads a big-endian 64-bit value.
    public mutating func readUInt64() throws -> UInt64 { try readBigEndian(byteCount: 8, what: "u64") }

    /// Reads a big-endian signed 64-bit value.
    public mutating func readInt64() throws -> Int64 { Int64(bitPattern: try readUInt64()) }

    /// Reads exactly `count` raw bytes.
    public mutating func readRaw(count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remainingCount else {
            throw DecodingError("truncated raw bytes", offset: position - bytes.startIndex)
        }
        let out = Array(bytes[position..<(position + count)])
        position += count
        return out
    }

    /// Reads a 32-bit length and that many bytes; a length above `maxCount` is an error.
    public mutating func readBlob(maxCount: Int) throws -> [UInt8] {
        let start = position
        let count = Int(try readUInt32())
        guard count <= maxCount else { throw DecodingError("blob too long", offset: start - bytes.startIndex) }
        return try readRaw(count: count)
    }

    /// Reads a length-prefixed UTF-8 string of at most `maxBytes` bytes; invalid UTF-8 is an error.
    public mutating func readString(maxBytes: Int) throws -> String {
        let start = position
        let blob = try readBlob(maxCount: maxBytes)
        guard let string = String(validating: blob, as: UTF8.self) else {
            throw DecodingError("invalid UTF-8", offset: start - bytes.startIndex)
        }
        return string
    }

    /// Reads a 32-bit element count for a list, refusing counts above `maxCount`.
    public mutating func readCount(maxCount: Int) throws -> Int {
        let start = position
        let count = Int(try readUInt32())
        guard count <= maxCount else { throw DecodingError("count too large", offset: start - bytes.startIndex) }
        return count
    }

    private mutating func readBigEndian(byteCount: Int, what: String) throws -> UInt64 {
        guard remainingCount >= byteCount else {
            throw DecodingError("truncated \(what)", offset: position - bytes.startIndex)
        }
        var value: UInt64 = 0
        for i in 0..<byteCount { value = value << 8 | UInt64(bytes[position + i]) }
        position += byteCount
        return value
    }
}

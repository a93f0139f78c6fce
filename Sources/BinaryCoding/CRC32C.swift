/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 and
/// many storage formats. Not cryptography: it detects accidental damage, not tampering.
///
/// Computed in software with slicing-by-8 tables (8 table lookups per 8 input bytes).
/// Use `checksum(_:)` for one buffer, or a value of this type to checksum in pieces:
/// `update` as often as needed, then read `value`.
public struct CRC32C: Sendable, Equatable {
    /// The reflected Castagnoli polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// 8 tables of 256 entries: table k maps a byte to its CRC contribution k bytes further on.
    private static let tables: [UInt32] = makeTables()

    /// The running register, kept inverted as the algorithm specifies.
    private var register: UInt32 = 0xFFFF_FFFF

    /// Starts a checksum of no bytes.
    public init() {}

    /// The checksum of every byte fed so far.
    public var value: UInt32 { ~register }

    /// Returns the CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// Returns the CRC-32C of an array or slice.
    public static func checksum(_ bytes: some RandomAccessCollection<UInt8>) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// Feeds an array's or slice's bytes.
    public mutating func update(_ bytes: some RandomAccessCollection<UInt8>) {
        withContiguousBytes(bytes) { update($0) }
    }

    /// Feeds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var crc = register
        var offset = 0
        let count = bytes.count
        Self.tables.withUnsafeBufferPointer { table in
            while offset + 8 <= count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = table[7 &* 256 &+ Int(low & 0xFF)]
                    ^ table[6 &* 256 &+ Int((low >> 8) & 0xFF)]
                    ^ table[5 &* 256 &+ Int((low >> 16) & 0xFF)]
                    ^ table[4 &* 256 &+ Int(low >> 24)]
                    ^ table[3 &* 256 &+ Int(high & 0xFF)]
                    ^ table[2 &* 256 &+ Int((high >> 8) & 0xFF)]
                    ^ table[1 &* 256 &+ Int((high >> 16) & 0xFF)]
                    ^ table[Int(high >> 24)]
                offset &+= 8
            }
            while offset < count {
                crc = table[Int((crc ^ UInt32(bytes[offset])) & 0xFF)] ^ (crc >> 8)
                offset &+= 1
            }
        }
        register = crc
    }

    private static func makeTables() -> [UInt32] {
        let tableCount = 8
        var tables = [UInt32](repeating: 0, count: tableCount * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[byte] = crc
        }
        for k in 1..<tableCount {
            for byte in 0..<256 {
                let previous = tables[(k - 1) * 256 + byte]
                tables[k * 256 + byte] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }
}

/// Calls `body` with the collection's bytes, copying only when it has no contiguous storage.
/// The buffer's base address is never nil, even for an empty collection, because some
/// libcrypto entry points reject a null pointer with a zero length.
public func withContiguousBytes<R>(
    _ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
    if bytes.isEmpty {
        var placeholder: UInt8 = 0
        return try withUnsafeBytes(of: &placeholder) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<0])) }
    }
    if let result = try bytes.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(bytes).withUnsafeBytes(body)
}

import BinaryCoding

/// The binary formats of command envelopes (log entries) and results: a version byte, a tag
/// byte, then the fields, big-endian, strings and byte arrays length-prefixed. Decoding never
/// traps: garbage, truncation, unknown tags and oversized lengths throw `DecodingError`.
/// Queries are never encoded: they are not logged, and clients send their own `ClientQuery`.
public enum TrackerCodec {
    /// The format version written first in every encoded envelope (log entries).
    public static let version: UInt8 = 1
    /// The format version written first in every encoded result (the client wire; snapshots
    /// keep cached results under their own version): 2 since listings are paged.
    public static let readsVersion: UInt8 = 2
    /// Longest string or small byte array accepted on decode. Generous on purpose: a committed
    /// command must decode on every replica; semantic limits are checked when it is applied.
    public static let fieldBytesMax = 4_096

    static func readVersion(_ reader: inout ByteReader, expected: UInt8 = TrackerCodec.version) throws {
        let start = reader.position
        let version = try reader.readUInt8()
        guard version == expected else { throw DecodingError("unknown version \(version), expected \(expected)", offset: start) }
    }

    static func unknownTag(_ tag: UInt8, _ reader: ByteReader) -> DecodingError {
        DecodingError("unknown tag \(tag)", offset: reader.position - 1)
    }
}

extension ByteWriter {
    mutating func write(_ token: TokenHash) { writeBlob(token.bytes) }

    /// A flag (0 none, 1 present) and the cursor, then the limit.
    mutating func write(_ page: PageRequest) {
        writeOptional(page.after)
        write(page.limit)
    }

    /// A flag (false absent, true present), then the string when present.
    mutating func writeOptional(_ string: String?) {
        write(string != nil)
        if let string { write(string) }
    }

    /// The file-hash field holds the file's SHA-1 and, for a detached piece list, the list's
    /// SHA-256 right after it (20 + 32 bytes): metadata with its piece hashes encodes exactly as
    /// before detached lists existed, so logs and snapshots written then read the same.
    mutating func write(_ metadata: FileMetadata) {
        write(metadata.name)
        write(metadata.sizeBytes)
        write(metadata.pieceSizeBytes)
        writeBlob(metadata.pieceHashes)
        writeBlob(metadata.fileHash + metadata.pieceListDigest)
    }
}

extension ByteReader {
    mutating func readField() throws -> String { try readString(maxBytes: TrackerCodec.fieldBytesMax) }

    mutating func readSmallBlob() throws -> [UInt8] { try readBlob(maxCount: TrackerCodec.fieldBytesMax) }

    mutating func readToken() throws -> TokenHash { TokenHash(try readSmallBlob()) }

    /// A certificate fingerprint: empty or `NameRule.fingerprintBytes` bytes; nothing else decodes.
    mutating func readFingerprint() throws -> [UInt8] {
        let start = position
        let bytes = try readBlob(maxCount: NameRule.fingerprintBytes)
        guard NameRule.isValidFingerprint(bytes) else { throw DecodingError("bad certificate fingerprint length", offset: start) }
        return bytes
    }

    mutating func readMetadata(limits: Limits) throws -> FileMetadata {
        let name = try readField()
        let size = try readUInt64()
        let pieceSize = try readUInt32()
        let hashes = try readBlob(maxCount: limits.piecesPerFileMax * Limits.sha1Bytes)
        let hashField = try readSmallBlob()
        let detached = hashField.count == Limits.sha1Bytes + Limits.pieceListDigestBytes
        return FileMetadata(name: name, sizeBytes: size, pieceSizeBytes: pieceSize, pieceHashes: hashes,
                            fileHash: detached ? Array(hashField.prefix(Limits.sha1Bytes)) : hashField,
                            pieceListDigest: detached ? Array(hashField.dropFirst(Limits.sha1Bytes)) : [])
    }

    mutating func readBitfield(limits: Limits) throws -> [UInt8] {
        try readBlob(maxCount: PieceBitfield.byteCount(pieceCount: limits.piecesPerFileMax))
    }

    mutating func readPageRequest() throws -> PageRequest {
        PageRequest(after: try readOptionalField(), limit: try readUInt32())
    }

    mutating func readOptionalField() throws -> String? { try readBool() ? try readField() : nil }

    /// A list count no larger than the bytes left, so a forged count cannot make a loop run long.
    mutating func readListCount() throws -> Int { try readCount(maxCount: remainingCount) }
}

extension FileMetadata {
    /// Writes the metadata's fields (the form commands and the client wire share).
    public func write(into writer: inout ByteWriter) { writer.write(self) }

    /// Reads fields written by `write(into:)`, bounding the piece hashes by `limits`.
    public static func read(from reader: inout ByteReader, limits: Limits) throws -> FileMetadata {
        try reader.readMetadata(limits: limits)
    }
}

extension PageRequest {
    /// Writes the cursor and the limit (the form queries and the client wire share).
    public func write(into writer: inout ByteWriter) { writer.write(self) }

    /// Reads what `write(into:)` wrote.
    public static func read(from reader: inout ByteReader) throws -> PageRequest { try reader.readPageRequest() }
}

extension PieceBitfield {
    /// Reads a length-prefixed bitfield no longer than a file of `limits.piecesPerFileMax`
    /// pieces needs.
    public static func readBytes(from reader: inout ByteReader, limits: Limits) throws -> [UInt8] {
        try reader.readBitfield(limits: limits)
    }
}

/// A command is encoded only inside its envelope (a log entry); clients send their own
/// `ClientCommand` (TrackerProtocol), which the leader binds to one of these.
extension TrackerCommand {
    func write(into w: inout ByteWriter) {
        switch self {
        case let .createUser(userID, salt, passwordHash):
            w.write(UInt8(1)); w.write(userID); w.writeBlob(salt); w.writeBlob(passwordHash)
        case let .openSession(userID, tokenHash, peerAddress, fingerprint, nowMillis):
            // Tag 13 since sessions carry a certificate fingerprint; tag 2 (without) still decodes.
            w.write(UInt8(13)); w.write(userID); w.write(tokenHash); w.write(peerAddress); w.writeBlob(fingerprint); w.write(nowMillis)
        case let .keepAlive(tokenHash, nowMillis):
            w.write(UInt8(3)); w.write(tokenHash); w.write(nowMillis)
        case let .logout(tokenHash):
            w.write(UInt8(4)); w.write(tokenHash)
        case let .expireSessions(tokenHashes, nowMillis):
            w.write(UInt8(5)); w.write(UInt32(tokenHashes.count))
            for tokenHash in tokenHashes { w.write(tokenHash) }
            w.write(nowMillis)
        case let .createGroup(tokenHash, groupID):
            w.write(UInt8(6)); w.write(tokenHash); w.write(groupID)
        case let .joinGroup(tokenHash, groupID):
            w.write(UInt8(7)); w.write(tokenHash); w.write(groupID)
        case let .acceptRequest(tokenHash, groupID, userID):
            w.write(UInt8(8)); w.write(tokenHash); w.write(groupID); w.write(userID)
        case let .leaveGroup(tokenHash, groupID):
            w.write(UInt8(9)); w.write(tokenHash); w.write(groupID)
        case let .uploadFile(tokenHash, groupID, metadata):
            w.write(UInt8(10)); w.write(tokenHash); w.write(groupID); w.write(metadata)
        case let .announcePieces(tokenHash, groupID, fileName, pieces):
            w.write(UInt8(11)); w.write(tokenHash); w.write(groupID); w.write(fileName); w.writeBlob(pieces)
        case let .stopShare(tokenHash, groupID, fileName):
            w.write(UInt8(12)); w.write(tokenHash); w.write(groupID); w.write(fileName)
        }
    }

    static func read(from r: inout ByteReader, limits: Limits) throws -> TrackerCommand {
        let tag = try r.readUInt8()
        switch tag {
        case 1: return .createUser(userID: try r.readField(), salt: try r.readSmallBlob(), passwordHash: try r.readSmallBlob())
        case 2:
            return .openSession(userID: try r.readField(), tokenHash: try r.readToken(),
                                peerAddress: try r.readField(), nowMillis: try r.readUInt64())
        case 13:
            return .openSession(userID: try r.readField(), tokenHash: try r.readToken(), peerAddress: try r.readField(),
                                certificateFingerprint: try r.readFingerprint(), nowMillis: try r.readUInt64())
        case 3: return .keepAlive(tokenHash: try r.readToken(), nowMillis: try r.readUInt64())
        case 4: return .logout(tokenHash: try r.readToken())
        case 5:
            let count = try r.readCount(maxCount: limits.expiredSessionsPerCommandMax)
            var tokenHashes: [TokenHash] = []
            tokenHashes.reserveCapacity(count)
            for _ in 0..<count { tokenHashes.append(try r.readToken()) }
            return .expireSessions(tokenHashes: tokenHashes, nowMillis: try r.readUInt64())
        case 6: return .createGroup(tokenHash: try r.readToken(), groupID: try r.readField())
        case 7: return .joinGroup(tokenHash: try r.readToken(), groupID: try r.readField())
        case 8: return .acceptRequest(tokenHash: try r.readToken(), groupID: try r.readField(), userID: try r.readField())
        case 9: return .leaveGroup(tokenHash: try r.readToken(), groupID: try r.readField())
        case 10:
            return .uploadFile(tokenHash: try r.readToken(), groupID: try r.readField(),
                               metadata: try r.readMetadata(limits: limits))
        case 11:
            return .announcePieces(tokenHash: try r.readToken(), groupID: try r.readField(),
                                   fileName: try r.readField(), pieces: try r.readBitfield(limits: limits))
        case 12: return .stopShare(tokenHash: try r.readToken(), groupID: try r.readField(), fileName: try r.readField())
        default: throw TrackerCodec.unknownTag(tag, r)
        }
    }
}

extension CommandEnvelope {
    /// The envelope's bytes, what the leader proposes as a log entry: version, client id,
    /// sequence, then the command's tag and fields.
    public func encode() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(TrackerCodec.version)
        writer.write(clientID)
        writer.write(sequence)
        command.write(into: &writer)
        return writer.bytes
    }

    /// Decodes bytes made by `encode()`; throws on anything else.
    public static func decode(_ bytes: [UInt8], limits: Limits = .standard) throws -> CommandEnvelope {
        var reader = ByteReader(bytes)
        try TrackerCodec.readVersion(&reader)
        let clientID = try reader.readUInt64()
        let sequence = try reader.readUInt64()
        let command = try TrackerCommand.read(from: &reader, limits: limits)
        try reader.expectEnd()
        return CommandEnvelope(clientID: clientID, sequence: sequence, command: command)
    }
}

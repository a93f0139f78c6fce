import BinaryCoding

/// The piece protocol between two clients, after the `.piecePeer` handshake. The dialer (a
/// downloader) first sends `open`; the acceptor (a serving peer) answers `opened` or `reject`
/// and closes. Then the downloader sends requests and the server answers each in order.
/// A request names (group, file, piece index), never a path.
///
/// Besides the answers, both sides may send `have` at any time once a file was named on the
/// connection (by `bitfieldRequest`): the server announces pieces it gained (or, super-seeding,
/// offers), the downloader the pieces it verified. A `have` is never answered.
public enum PieceMessage: Equatable, Sendable {
    /// Downloader → server: who I am (checked with the tracker) and the group I download in.
    case open(userID: String, groupID: String)
    /// Server → downloader: the connection may request pieces of the group's shared files.
    case opened
    /// Either side: a request was refused; for `open`, the connection is then closed.
    case reject(reason: String)
    /// Downloader → server: which pieces of this file do you have?
    case bitfieldRequest(fileName: String)
    /// Server → downloader: the pieces of the file it serves, as a `PieceBitfield`.
    case bitfield(fileName: String, pieces: [UInt8])
    /// Downloader → server: send piece `index` of `fileName` in `groupID`.
    case request(groupID: String, fileName: String, index: UInt32)
    /// Server → downloader: the bytes of piece `index`.
    case piece(index: UInt32, bytes: [UInt8])
    /// Either side, unanswered: it holds these pieces of `fileName` now (ascending, at most
    /// `TransferLimits.haveIndicesMax`).
    case have(fileName: String, pieces: [UInt32])
    /// Downloader → server: the piece hashes `first..<first+count` of a file whose hash list
    /// the tracker does not hold (at most `TransferLimits.pieceListChunkHashes`).
    case pieceListRequest(fileName: String, first: UInt32, count: UInt32)
    /// Server → downloader: those hashes, 20 bytes each.
    case pieceList(fileName: String, first: UInt32, hashes: [UInt8])

    /// Frame type numbers, above the handshake's.
    public enum Kind: UInt8, Sendable {
        case open = 32, opened, reject, bitfieldRequest, bitfield, request, piece, have, pieceListRequest, pieceList
    }

    /// This message's frame type.
    public var kind: Kind {
        switch self {
        case .open: .open
        case .opened: .opened
        case .reject: .reject
        case .bitfieldRequest: .bitfieldRequest
        case .bitfield: .bitfield
        case .request: .request
        case .piece: .piece
        case .have: .have
        case .pieceListRequest: .pieceListRequest
        case .pieceList: .pieceList
        }
    }

    /// The payload bytes (without the frame header).
    public func encodedPayload() -> [UInt8] {
        var w = ByteWriter()
        switch self {
        case let .open(userID, groupID): w.write(userID); w.write(groupID)
        case .opened: break
        case let .reject(reason): w.write(String(reason.utf8.prefix(TransferLimits.reasonBytesMax)) ?? "refused")
        case let .bitfieldRequest(fileName): w.write(fileName)
        case let .bitfield(fileName, pieces): w.write(fileName); w.writeBlob(pieces)
        case let .request(groupID, fileName, index): w.write(groupID); w.write(fileName); w.write(index)
        case let .piece(index, bytes): w.write(index); w.writeRaw(bytes)
        case let .have(fileName, pieces):
            w.write(fileName)
            w.write(UInt32(clamping: pieces.count))
            for index in pieces { w.write(index) }
        case let .pieceListRequest(fileName, first, count): w.write(fileName); w.write(first); w.write(count)
        case let .pieceList(fileName, first, hashes): w.write(fileName); w.write(first); w.writeBlob(hashes)
        }
        return w.bytes
    }

    /// Decodes a payload of frame type `type`; throws `DecodingError` on anything malformed
    /// (unknown type, lengths above the limits, trailing bytes). Never traps.
    public static func decode(type: UInt8, payload: [UInt8]) throws -> PieceMessage {
        guard let kind = Kind(rawValue: type) else { throw DecodingError("unknown piece message \(type)", offset: 0) }
        var r = ByteReader(payload)
        let name = TransferLimits.nameBytesMax
        let message: PieceMessage
        switch kind {
        case .open: message = .open(userID: try r.readString(maxBytes: name), groupID: try r.readString(maxBytes: name))
        case .opened: message = .opened
        case .reject: message = .reject(reason: try r.readString(maxBytes: TransferLimits.reasonBytesMax))
        case .bitfieldRequest: message = .bitfieldRequest(fileName: try r.readString(maxBytes: name))
        case .bitfield:
            message = .bitfield(fileName: try r.readString(maxBytes: name),
                                pieces: try r.readBlob(maxCount: TransferLimits.controlFrameBytesMax))
        case .request:
            message = .request(groupID: try r.readString(maxBytes: name), fileName: try r.readString(maxBytes: name),
                               index: try r.readUInt32())
        case .piece:
            let index = try r.readUInt32()
            guard r.remainingCount <= TransferLimits.pieceSizeBytes else { throw DecodingError("piece too long", offset: 4) }
            return .piece(index: index, bytes: Array(payload[4...]))
        case .have:
            let fileName = try r.readString(maxBytes: name)
            let count = try r.readCount(maxCount: TransferLimits.haveIndicesMax)
            guard count > 0, count * 4 <= r.remainingCount else { throw DecodingError("bad have count \(count)", offset: 0) }
            var pieces: [UInt32] = []
            pieces.reserveCapacity(count)
            for _ in 0..<count { pieces.append(try r.readUInt32()) }
            message = .have(fileName: fileName, pieces: pieces)
        case .pieceListRequest:
            message = .pieceListRequest(fileName: try r.readString(maxBytes: name), first: try r.readUInt32(), count: try r.readUInt32())
        case .pieceList:
            message = .pieceList(fileName: try r.readString(maxBytes: name), first: try r.readUInt32(),
                                 hashes: try r.readBlob(maxCount: TransferLimits.pieceListChunkHashes * TransferLimits.sha1Bytes))
        }
        try r.expectEnd()
        return message
    }
}

import Networking
import TrackerStateMachine

/// Remote input that does not fit: what a tracker or a peer sent, refused with a clear message
/// at the boundary instead of a trap further in.
public struct RemoteInputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// One line saying what did not fit.
    public var description: String

    /// Makes an error.
    public init(_ description: String) { self.description = description }
}

/// The one check of a tracker's download answer, before any of it is used: the metadata is
/// self-consistent (name, piece size, a size within bounds, a 20-byte file hash, and exactly
/// one 20-byte hash per piece or the 32-byte digest of a detached list) and every peer has a valid user id, a parsable address and a bitfield
/// that fits the piece count.
public enum DownloadInfoCheck {
    /// Returns `info` when it fits a download of `fileName`; throws what does not fit.
    public static func validate(_ info: DownloadInfo, fileName: String) throws(RemoteInputError) -> DownloadInfo {
        if let why = violation(of: info.metadata, expectedName: fileName) {
            throw RemoteInputError("the tracker sent bad metadata for \(logSafe(fileName)): \(why)")
        }
        guard info.peers.count <= TransferLimits.peersPerAnswerMax else {
            throw RemoteInputError("the tracker sent \(info.peers.count) peers (at most \(TransferLimits.peersPerAnswerMax))")
        }
        let pieceCount = info.metadata.pieceCount
        for (position, peer) in info.peers.enumerated() {
            if let why = peerViolation(peer, pieceCount: pieceCount) {
                throw RemoteInputError("the tracker sent a bad peer (entry \(position)): \(why)")
            }
        }
        return info
    }

    /// Why `metadata` is not usable for a download (or a resumed share), or nil when it is.
    /// `pieceCount` is only read once the size is known to be in bounds.
    public static func violation(of metadata: FileMetadata, expectedName: String?) -> String? {
        if let why = NameRule.violation(of: metadata.name, limits: .standard) { return "file name \(why)" }
        if let expectedName, metadata.name != expectedName { return "metadata names another file" }
        guard metadata.pieceSizeBytes == UInt32(TransferLimits.pieceSizeBytes) else {
            return "unsupported piece size \(metadata.pieceSizeBytes)"
        }
        guard metadata.sizeBytes <= TransferLimits.fileSizeBytesMax else {
            return "size \(metadata.sizeBytes) is above \(TransferLimits.fileSizeBytesMax) bytes"
        }
        let pieceCount = metadata.pieceCount
        guard metadata.fileHash.count == Limits.sha1Bytes else { return "file hash of \(metadata.fileHash.count) bytes" }
        if metadata.hasDetachedPieceList {
            guard metadata.pieceListDigest.count == TransferLimits.pieceListDigestBytes, metadata.pieceHashes.isEmpty, pieceCount > 0 else {
                return "a detached piece list needs a \(TransferLimits.pieceListDigestBytes)-byte digest, no piece hashes and at least one piece"
            }
            return nil
        }
        guard metadata.pieceHashes.count == pieceCount * Limits.sha1Bytes else {
            return "\(metadata.pieceHashes.count) bytes of piece hashes for \(pieceCount) pieces (expected \(pieceCount * Limits.sha1Bytes))"
        }
        return nil
    }

    private static func peerViolation(_ peer: PeerInfo, pieceCount: Int) -> String? {
        if let why = NameRule.violation(of: peer.userID, limits: .standard) { return "user id \(why)" }
        guard (try? PeerAddress.parse(peer.peerAddress)) != nil else { return "address \(logSafe(peer.peerAddress)) is not IP:PORT" }
        if let why = PieceBitfield.violation(of: peer.pieces, pieceCount: pieceCount) { return why }
        return nil
    }
}

/// The one check of piece-protocol messages from a peer, against what the receiver expects
/// next: names follow the tracker's name rule, a bitfield fits the file, a piece answers the
/// request it follows.
public enum PeerMessageCheck {
    /// What a connection expects to receive next.
    public enum Expectation: Equatable, Sendable {
        /// A server's first message: `open`.
        case open
        /// A server's later messages: `bitfieldRequest`, `request`, `pieceListRequest` or `have`
        /// (whose indices the server then checks against the file with `haveViolation`).
        case request
        /// A downloader's answer to `open`: `opened` or `reject`.
        case openAnswer
        /// A downloader's answer to a bitfield request for `fileName`: `bitfield` or `reject`.
        case bitfield(fileName: String, pieceCount: Int)
        /// A downloader's answer to a request for piece `index`: `piece` or `reject`.
        case piece(index: Int)
        /// A downloader's answer to a piece-list request: `pieceList` with those hashes, or `reject`.
        case pieceList(fileName: String, first: Int, count: Int)
        /// An unanswered `have` about `fileName` (of `pieceCount` pieces), which may come between answers.
        case have(fileName: String, pieceCount: Int)
    }

    /// Why `message` does not fit `expectation`, or nil when it does.
    public static func violation(of message: PieceMessage, expecting expectation: Expectation) -> String? {
        switch (expectation, message) {
        case let (.open, .open(userID, groupID)):
            return nameViolation(userID, "user id") ?? nameViolation(groupID, "group id")
        case let (.request, .bitfieldRequest(fileName)):
            return nameViolation(fileName, "file name")
        case let (.request, .request(groupID, fileName, index)):
            if let why = nameViolation(groupID, "group id") ?? nameViolation(fileName, "file name") { return why }
            return index < UInt32(TransferLimits.piecesPerFileMax) ? nil : "piece index \(index) is out of range"
        case let (.request, .have(fileName, pieces)):
            return nameViolation(fileName, "file name") ?? haveViolation(pieces, pieceCount: TransferLimits.piecesPerFileMax)
        case let (.request, .pieceListRequest(fileName, first, count)):
            if let why = nameViolation(fileName, "file name") { return why }
            guard count >= 1, count <= UInt32(TransferLimits.pieceListChunkHashes) else { return "piece list request for \(count) hashes" }
            return UInt64(first) + UInt64(count) <= UInt64(TransferLimits.piecesPerFileMax) ? nil : "piece list request out of range"
        case (.openAnswer, .opened), (.openAnswer, .reject), (.bitfield, .reject), (.piece, .reject), (.pieceList, .reject):
            return nil
        case let (.pieceList(expectedName, expectedFirst, count), .pieceList(fileName, first, hashes)):
            guard fileName == expectedName, Int(first) == expectedFirst else { return "piece list answers another request" }
            return hashes.count == count * TransferLimits.sha1Bytes ? nil : "piece list of \(hashes.count) bytes for \(count) hashes"
        case let (.have(expectedName, pieceCount), .have(fileName, pieces)):
            guard fileName == expectedName else { return "have for another file" }
            return haveViolation(pieces, pieceCount: pieceCount)
        case let (.bitfield(expectedName, pieceCount), .bitfield(fileName, bits)):
            guard fileName == expectedName else { return "bitfield for another file" }
            return PieceBitfield.violation(of: bits, pieceCount: pieceCount)
        case let (.piece(expectedIndex), .piece(index, _)):
            return Int(index) == expectedIndex ? nil : "piece \(index) answers the request for piece \(expectedIndex)"
        default:
            return "unexpected \(message.kind) message"
        }
    }

    /// Why the indices of a `have` do not fit a file of `pieceCount` pieces: none, too many,
    /// not strictly ascending, or out of range; nil when they fit.
    public static func haveViolation(_ pieces: [UInt32], pieceCount: Int) -> String? {
        guard !pieces.isEmpty, pieces.count <= TransferLimits.haveIndicesMax else { return "have of \(pieces.count) pieces" }
        var previous: UInt32?
        for index in pieces {
            if let previous, index <= previous { return "have indices are not ascending" }
            guard Int(index) < pieceCount else { return "have names piece \(index) of \(pieceCount)" }
            previous = index
        }
        return nil
    }

    private static func nameViolation(_ name: String, _ what: String) -> String? {
        NameRule.violation(of: name, limits: .standard).map { "\(what) \($0)" }
    }
}

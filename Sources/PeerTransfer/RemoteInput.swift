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
/// self-consistent (name, piece size, a size within bounds, exactly one 20-byte hash per piece,
/// a 20-byte file hash) and every peer has a valid user id, a parsable address and a bitfield
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
        guard metadata.pieceHashes.count == pieceCount * Limits.sha1Bytes else {
            return "\(metadata.pieceHashes.count) bytes of piece hashes for \(pieceCount) pieces (expected \(pieceCount * Limits.sha1Bytes))"
        }
        guard metadata.fileHash.count == Limits.sha1Bytes else { return "file hash of \(metadata.fileHash.count) bytes" }
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
        /// A server's later messages: `bitfieldRequest` or `request`.
        case request
        /// A downloader's answer to `open`: `opened` or `reject`.
        case openAnswer
        /// A downloader's answer to a bitfield request for `fileName`: `bitfield` or `reject`.
        case bitfield(fileName: String, pieceCount: Int)
        /// A downloader's answer to a request for piece `index`: `piece` or `reject`.
        case piece(index: Int)
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
        case (.openAnswer, .opened), (.openAnswer, .reject), (.bitfield, .reject), (.piece, .reject):
            return nil
        case let (.bitfield(expectedName, pieceCount), .bitfield(fileName, bits)):
            guard fileName == expectedName else { return "bitfield for another file" }
            return PieceBitfield.violation(of: bits, pieceCount: pieceCount)
        case let (.piece(expectedIndex), .piece(index, _)):
            return Int(index) == expectedIndex ? nil : "piece \(index) answers the request for piece \(expectedIndex)"
        default:
            return "unexpected \(message.kind) message"
        }
    }

    private static func nameViolation(_ name: String, _ what: String) -> String? {
        NameRule.violation(of: name, limits: .standard).map { "\(what) \($0)" }
    }
}

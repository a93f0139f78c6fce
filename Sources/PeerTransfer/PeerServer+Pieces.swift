import Foundation
import TrackerStateMachine

/// A piece request as the server checks it.
struct PieceRequest {
    /// The group the connection was opened for.
    var sessionGroup: String
    /// The group the request names.
    var groupID: String
    var fileName: String
    var index: Int
    /// Who asks (for its turn to be sent to).
    var userID: String
}

/// Answers to piece and piece-list requests.
extension PeerServer {
    func answerPieceRequest(_ request: PieceRequest, link: ServedLink, id: Int, on wire: PieceWire, openFile: inout PieceFile?) throws {
        let (groupID, fileName, index) = (request.groupID, request.fileName, request.index)
        guard groupID == request.sessionGroup else { return try wire.send(.reject(reason: "connection is open for another group")) }
        guard let share = registry.share(groupID: groupID, fileName: fileName) else {
            return try wire.send(.reject(reason: "not sharing \(fileName)"))
        }
        let key = ShareKey(groupID: groupID, fileName: fileName)
        guard link.key == key else { return try wire.send(.reject(reason: "ask for the bitfield of \(fileName) first")) }
        guard index < share.pieceCount, index / 8 < share.pieces.count, PieceBitfield.contains(share.pieces, piece: index) else {
            return try wire.send(.reject(reason: "piece \(index) not held"))
        }
        if link.isSuperSeeding {
            let allowed = seeding.withLock { all -> Bool in
                let allowed = all[key]?.mayServe(id, index: index) ?? false
                if !allowed { all[key]?.refused(id, index: index) }
                return allowed
            }
            guard allowed else { return try wire.send(.reject(reason: "piece \(index) went to another downloader; fetch it from a peer")) }
        }
        let offset = UInt64(index) * UInt64(TransferLimits.pieceSizeBytes)
        let length = Int(min(UInt64(TransferLimits.pieceSizeBytes), share.sizeBytes - offset))
        // A download in progress is read through its own descriptor (a path swapped under it
        // cannot redirect reads); a shared file by its path. The connection keeps its last file
        // open (a share's path changes once, when a download completes and is linked into place).
        if let file = share.file {
            openFile = file
        } else if openFile?.path != share.path {
            openFile = try? PieceFile.openForReading(share.path)
        }
        guard let file = openFile else { return try wire.send(.reject(reason: "file unavailable")) }
        let sent = try turns.withTurn(of: request.userID) { try sendPiece(index: index, length: length, from: file, at: offset, on: wire) }
        guard sent else { return try wire.send(.reject(reason: "file unavailable")) }
        servedPieces.wrappingAdd(1, ordering: .relaxed)
        servedBytes.withLock { $0[key, default: 0] += UInt64(length) }
        if link.isSuperSeeding {
            let roundEnded = seeding.withLock { all -> Bool in
                let before = all[key]?.isRoundComplete ?? true
                all[key]?.served(id, index: index, nowMillis: monotonicNowMillis())
                return !before && all[key]?.isRoundComplete == true
            }
            if roundEnded { log("super-seeding round complete group=\(logSafe(groupID)) file=\(logSafe(fileName)) pieces=\(share.pieceCount)") }
        }
    }

    /// Sends one piece read from `file` (after the test-only delay, and corrupted while the
    /// test-only counter lasts); false when the file could not be read.
    private func sendPiece(index: Int, length: Int, from file: PieceFile, at offset: UInt64, on wire: PieceWire) throws -> Bool {
        if serveDelayMillis > 0 { usleep(UInt32(serveDelayMillis * 1_000)) }
        let corrupt = corruptPiecesLeft.load(ordering: .relaxed) > 0
            && corruptPiecesLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0
        // Straight from the page cache, unless this piece is to be corrupted (test-only).
        guard corrupt else { return try wire.sendPiece(index: UInt32(index), length: length, file: file, offset: offset) }
        return try wire.sendPiece(index: UInt32(index), length: length) { buffer in
            guard (try? file.read(into: buffer, at: offset)) == true else { return false }
            if !buffer.isEmpty { buffer[0] ^= 0xFF }
            return true
        }
    }

    /// Answers a piece-list request from the share's hash list, when this client knows it.
    func answerPieceList(groupID: String, fileName: String, first: Int, count: Int, on wire: PieceWire) throws {
        guard let share = registry.share(groupID: groupID, fileName: fileName) else {
            return try wire.send(.reject(reason: "not sharing \(fileName)"))
        }
        let hashBytes = TransferLimits.sha1Bytes
        guard share.pieceHashes.count == share.pieceCount * hashBytes else {
            return try wire.send(.reject(reason: "piece list of \(fileName) unavailable"))
        }
        guard first >= 0, count >= 1, first + count <= share.pieceCount else {
            return try wire.send(.reject(reason: "piece list request out of range"))
        }
        let hashes = Array(share.pieceHashes[(first * hashBytes)..<((first + count) * hashBytes)])
        try wire.send(.pieceList(fileName: fileName, first: UInt32(first), hashes: hashes))
    }
}

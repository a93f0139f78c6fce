import Foundation
import Networking
import TrackerStateMachine

/// One connection of the peer server: handshake, `open`, the membership check, then requests.
extension PeerServer {
    func serve(_ socket: Socket, id: Int, host: String) {
        do {
            guard let (wire, userID, groupID) = try authenticate(socket, id: id, host: host) else { return }
            try socket.setReceiveTimeout(millis: TransferLimits.servingIdleTimeoutMillis)
            try wire.send(.opened)
            try answerRequests(on: wire, groupID: groupID, userID: userID, host: host)
        } catch {
            // A peer that vanished, timed out or sent garbage: its connection ends, nothing else does.
        }
    }

    /// Runs the unauthenticated phase; returns the wire and the peer's names once it holds an
    /// upload slot, or nil when it was refused (the reason is sent) or closed meanwhile.
    private func authenticate(_ socket: Socket, id: Int, host: String) throws -> (PieceWire, String, String)? {
        do {
            _ = try Handshake.perform(on: FramedConnection(socket: socket), as: .acceptor, role: .piecePeer, id: 0, key: nil,
                                      auth: PeerHandshake.authenticator,
                                      // The server's own deadline (the whole unauthenticated phase) ends it first.
                                      timeoutMillis: TransferLimits.authenticationDeadlineMillis + 1_000)
        } catch {
            if isStillOpen(id) { refuse(.badHandshake, host: host) }
            return nil
        }
        guard advance(id, to: .awaitingOpen) else { return nil }
        try socket.setReceiveTimeout(millis: TransferLimits.authenticationDeadlineMillis)
        try socket.setSendTimeout(millis: TransferLimits.peerSendTimeoutMillis)
        let wire = PieceWire(socket: socket)
        let first = try wire.receive(maxBytes: 0)
        if let why = PeerMessageCheck.violation(of: first, expecting: .open) {
            let names = if case let .open(userID, groupID) = first { "user=\(logSafe(userID)) group=\(logSafe(groupID)) " } else { "" }
            refuse(.badOpen, host: host, detail: names + "why=\(logSafe(why))")
            try wire.send(.reject(reason: "expected open: \(why)"))
            return nil
        }
        guard case let .open(userID, groupID) = first, advance(id, to: .authorizing) else { return nil }
        if let reason = authorize(userID, groupID, host) {
            refuse(.notAuthorized, host: host, detail: "user=\(logSafe(userID)) group=\(logSafe(groupID)) reason=\(logSafe(reason))")
            try wire.send(.reject(reason: reason))
            return nil
        }
        switch state.withLock({ $0.admission.authorize(id, userID: userID) }) {
        case .serving:
            return (wire, userID, groupID)
        case .closed:
            return nil
        case let .refused(cause):
            refuse(cause, host: host, detail: "user=\(logSafe(userID))")
            try wire.send(.reject(reason: cause == .userCap ? "too many connections for \(userID); try again later"
                                                            : "too many uploads; try again later"))
            return nil
        }
    }

    private func advance(_ id: Int, to phase: PeerAdmission.Phase) -> Bool {
        state.withLock { $0.admission.advance(id, to: phase) }
    }

    private func isStillOpen(_ id: Int) -> Bool {
        state.withLock { s in s.admission.standing(of: id).map { $0 != .closing } ?? false }
    }

    private func answerRequests(on wire: PieceWire, groupID: String, userID: String, host: String) throws {
        var openFile: PieceFile?
        while !isStopped.load(ordering: .relaxed) {
            let message = try wire.receive(maxBytes: 0)
            let violation = PeerMessageCheck.violation(of: message, expecting: .request)
            switch message {
            case .bitfieldRequest, .request:
                if let violation { try wire.send(.reject(reason: violation)); continue }
            default:
                refuse(.badRequest, host: host, detail: "user=\(logSafe(userID)) why=\(logSafe(violation ?? "unexpected message"))")
                try wire.send(.reject(reason: "unexpected message"))
                return
            }
            if case let .bitfieldRequest(fileName) = message {
                if let share = registry.share(groupID: groupID, fileName: fileName) {
                    try wire.send(.bitfield(fileName: fileName, pieces: share.pieces))
                } else {
                    try wire.send(.reject(reason: "not sharing \(fileName)"))
                }
            } else if case let .request(requestGroup, fileName, index) = message {
                try answerPieceRequest(on: wire, sessionGroup: groupID, groupID: requestGroup, fileName: fileName,
                                       index: Int(index), openFile: &openFile)
            }
        }
    }

    private func answerPieceRequest(on wire: PieceWire, sessionGroup: String, groupID: String, fileName: String, index: Int,
                                    openFile: inout PieceFile?) throws {
        guard groupID == sessionGroup else { return try wire.send(.reject(reason: "connection is open for another group")) }
        guard let share = registry.share(groupID: groupID, fileName: fileName) else {
            return try wire.send(.reject(reason: "not sharing \(fileName)"))
        }
        guard index < share.pieceCount, index / 8 < share.pieces.count, PieceBitfield.contains(share.pieces, piece: index) else {
            return try wire.send(.reject(reason: "piece \(index) not held"))
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
        if serveDelayMillis > 0 { usleep(UInt32(serveDelayMillis * 1_000)) }
        let corrupt = corruptPiecesLeft.load(ordering: .relaxed) > 0
            && corruptPiecesLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0
        let sent = try wire.sendPiece(index: UInt32(index), length: length) { buffer in
            guard (try? file.read(into: buffer, at: offset)) == true else { return false }
            if corrupt, !buffer.isEmpty { buffer[0] ^= 0xFF }
            return true
        }
        if sent { servedPieces.wrappingAdd(1, ordering: .relaxed) } else { try wire.send(.reject(reason: "file unavailable")) }
    }
}

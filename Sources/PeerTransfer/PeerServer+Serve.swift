import Foundation
import Networking

/// One connection of the peer server: handshake, `open`, the membership check, then requests.
extension PeerServer {
    func serve(_ socket: Socket, id: Int, host: String) {
        do {
            guard let (wire, userID, groupID) = try authenticate(socket, id: id, host: host) else { return }
            try socket.setReceiveTimeout(millis: TransferLimits.servingIdleTimeoutMillis)
            try wire.send(.opened)
            try answerRequests(on: wire, id: id, groupID: groupID, userID: userID, host: host)
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
}

import Foundation
import Networking

/// One connection of the peer server: handshake, `open`, the membership check, then requests.
extension PeerServer {
    func serve(_ socket: Socket, id: Int, host: String) {
        do {
            guard let (wire, credentials) = try authenticate(socket, id: id, host: host) else { return }
            try socket.setReceiveTimeout(millis: TransferLimits.servingIdleTimeoutMillis)
            try wire.send(.opened)
            try answerRequests(on: wire, id: id, credentials: credentials, host: host)
            wire.stream.close()
        } catch {
            // A peer that vanished, timed out or sent garbage: its connection ends, nothing else does.
        }
    }

    /// Runs the unauthenticated phase; returns the wire and the peer's names once it holds an
    /// upload slot, or nil when it was refused (the reason is sent) or closed meanwhile.
    private func authenticate(_ socket: Socket, id: Int, host: String) throws -> (PieceWire, PeerCredentials)? {
        let wire: PieceWire
        do {
            try socket.setSendTimeout(millis: TransferLimits.peerSendTimeoutMillis)
            wire = try handshake(socket)
        } catch {
            if isStillOpen(id) { refuse(.badHandshake, host: host, detail: [("why", "\(error)")]) }
            return nil
        }
        guard advance(id, to: .awaitingOpen) else { return nil }
        try socket.setReceiveTimeout(millis: TransferLimits.authenticationDeadlineMillis)
        let first = try wire.receive(maxBytes: 0)
        if let why = PeerMessageCheck.violation(of: first, expecting: .open) {
            let names: [(key: String, value: String)] = if case let .open(userID, groupID) = first { [("user", userID), ("group", groupID)] } else { [] }
            refuse(.badOpen, host: host, detail: names + [(key: "why", value: why)])
            try wire.send(.reject(reason: "expected open: \(why)"))
            return nil
        }
        guard case let .open(userID, groupID) = first, advance(id, to: .authorizing) else { return nil }
        let credentials = PeerCredentials(userID: userID, groupID: groupID, remoteHost: host, fingerprint: wire.peerFingerprint)
        if let reason = authorize(credentials).reason {
            refuse(.notAuthorized, host: host, detail: [(key: "user", value: userID), (key: "group", value: groupID), (key: "reason", value: reason)])
            try wire.send(.reject(reason: reason))
            return nil
        }
        switch state.withLock({ $0.admission.authorize(id, userID: userID) }) {
        case .serving:
            return (wire, credentials)
        case .closed:
            return nil
        case let .refused(cause):
            refuse(cause, host: host, detail: [(key: "user", value: userID)])
            try wire.send(.reject(reason: cause == .userCap ? "too many connections for \(userID); try again later"
                                                            : "too many uploads; try again later"))
            return nil
        }
    }

    /// TLS first when the server has a context (any certificate, reported for the membership
    /// check), then the hello exchange, over TLS or in plaintext.
    private func handshake(_ socket: Socket) throws -> PieceWire {
        // The server's own deadline (the whole unauthenticated phase) ends it first.
        let deadlineMillis = TransferLimits.authenticationDeadlineMillis + 1_000
        guard let tls else {
            _ = try Handshake.perform(on: FramedConnection(socket: socket), as: .acceptor, role: .piecePeer, id: 0, key: nil,
                                      auth: PeerHandshake.authenticator, timeoutMillis: deadlineMillis)
            return PieceWire(socket: socket)
        }
        let stream = try TLSStream.handshake(socket: socket, context: tls, verification: .anyCertificate,
                                             deadline: .now + .milliseconds(deadlineMillis))
        _ = try Handshake.perform(on: FramedConnection(tls: stream), as: .acceptor, role: .piecePeer, id: 0, key: nil,
                                  auth: PeerHandshake.authenticator, timeoutMillis: deadlineMillis)
        return PieceWire(tls: stream)
    }

    private func advance(_ id: Int, to phase: PeerAdmission.Phase) -> Bool {
        state.withLock { $0.admission.advance(id, to: phase) }
    }

    private func isStillOpen(_ id: Int) -> Bool {
        state.withLock { s in s.admission.standing(of: id).map { $0 != .closing } ?? false }
    }
}

import Foundation
import Hashing
import Networking
import Synchronization
import TrackerStateMachine

/// One peer of a download: connect, open, learn its pieces, keep requests in flight, verify
/// every piece before writing it.
extension Download {
    /// What the peer's answers correspond to, in order (the server answers in order).
    enum Pending: Equatable {
        case bitfield
        case piece(Int)
    }

    func runPeer(id: Int, peer: PeerInfo, context: Context) {
        var opened = false
        var brokeProtocol = false
        var socketForCleanup: Socket?
        do {
            let wire = try dial(peer, id: id) { socket in
                socketForCleanup = socket
                links.withLock { $0.live[peer.peerAddress] = .some(socket) }
            }
            opened = true
            scheduler.withLock { $0!.addPeer(id, nowMillis: monotonicNowMillis()) }
            try exchange(id: id, userID: peer.userID, wire: wire, context: context)
        } catch {
            brokeProtocol = error is PeerViolation
            if !isCancelled {
                environment.log("peer link ended user=\(logSafe(peer.userID)) address=\(logSafe(peer.peerAddress)) reason=\(logSafe("\(error)"))")
            }
        }
        scheduler.withLock { $0!.removePeer(id) }
        socketForCleanup?.close()
        links.withLock { l in
            l.live[peer.peerAddress] = nil
            // A peer that broke the protocol is retried no more often than one that refused.
            if !opened || brokeProtocol { l.failures[peer.peerAddress, default: 0] += 1 }
        }
        wake.signal()
    }

    /// Names the file (`bitfieldRequest`), then keeps requests in flight, tells the server each
    /// piece this download verified (`have`) and takes the server's `have`s as they come; waits
    /// on the socket when there is nothing to ask, until the download is complete.
    /// Connects to `peer`, runs the handshake and `open`; `connected` sees the socket as soon as
    /// it exists (so a cancel can shut it down). Throws a `PeerViolation` for a bad answer.
    func dial(_ peer: PeerInfo, id: Int, connected: (Socket) -> Void) throws -> PieceWire {
        let address = try PeerAddress.parse(peer.peerAddress)
        let socket = try Socket.connect(host: address.host, port: address.port, timeoutMillis: TransferLimits.peerConnectTimeoutMillis)
        connected(socket)
        if isCancelled { throw DownloadFailure("cancelled") }
        let wire = try handshake(socket, peer: peer, id: id)
        try socket.setReceiveTimeout(millis: TransferLimits.peerReceiveTimeoutMillis)
        try wire.send(.open(userID: environment.userID, groupID: groupID))
        let answer = try wire.receive(maxBytes: 0)
        if let why = PeerMessageCheck.violation(of: answer, expecting: .openAnswer) { throw PeerViolation(why) }
        if case let .reject(reason) = answer { throw DownloadFailure("peer \(peer.userID) refused: \(reason)") }
        return wire
    }

    /// TLS pinned to the sharer's recorded fingerprint (when this download has a TLS context),
    /// then the hello exchange. A sharer whose session recorded no certificate is refused.
    private func handshake(_ socket: Socket, peer: PeerInfo, id: Int) throws -> PieceWire {
        try socket.setSendTimeout(millis: TransferLimits.peerSendTimeoutMillis)
        guard let tls = environment.peerTLS else {
            _ = try Handshake.perform(on: FramedConnection(socket: socket), as: .dialer, role: .piecePeer, id: UInt64(id), key: nil,
                                      auth: PeerHandshake.authenticator)
            return PieceWire(socket: socket)
        }
        guard let pin = CertificateFingerprint(digest: peer.certificateFingerprint) else {
            throw DownloadFailure("peer \(peer.userID) logged in without a certificate; refusing it")
        }
        let stream = try TLSStream.handshake(socket: socket, context: tls, verification: .pinned([pin]),
                                             deadline: .now + .milliseconds(TransferLimits.peerConnectTimeoutMillis))
        _ = try Handshake.perform(on: FramedConnection(tls: stream), as: .dialer, role: .piecePeer, id: UInt64(id), key: nil,
                                  auth: PeerHandshake.authenticator)
        return PieceWire(tls: stream)
    }

    private func exchange(id: Int, userID: String, wire: PieceWire, context: Context) throws {
        try wire.send(.bitfieldRequest(fileName: fileName))
        var pending: [Pending] = [.bitfield]
        var random = SystemRandomNumberGenerator()
        var toldCursor = 0
        // The scheduler's version at which this peer last had nothing to give: asked again
        // only once something changed (an idle thread costs a lock, not a scan).
        var idleVersion: UInt64?
        while !isCancelled {
            var batch: [PieceMessage] = []
            let (verified, requests) = scheduler.withLock { s -> ([Int], [Int]) in
                let verified = Array(s!.doneOrder[toldCursor...])
                toldCursor = s!.doneOrder.count
                var picked: [Int] = []
                // Read under the lock, so no peer connected after this reading.
                let now = monotonicNowMillis()
                let depth = s!.requestDepth(for: id, nowMillis: now)
                var inFlight = pending.count { $0 != .bitfield }
                guard inFlight < depth, s!.version != idleVersion else { return (verified, picked) }
                while inFlight < depth {
                    guard let index = s!.nextRequest(for: id, random: &random, nowMillis: now) else {
                        idleVersion = s!.version
                        break
                    }
                    picked.append(index)
                    inFlight += 1
                }
                return (verified, picked)
            }
            batch += Self.haves(of: verified, fileName: fileName)
            for index in requests {
                batch.append(.request(groupID: groupID, fileName: fileName, index: UInt32(index)))
                pending.append(.piece(index))
            }
            if !batch.isEmpty { try wire.send(batch) }
            if pending.isEmpty {
                if scheduler.withLock({ $0!.isComplete }) { return }
                // Nothing to ask of this peer now: wait for its `have` (or another peer's news).
                guard try wire.waitUntilReadable(timeoutMillis: TransferLimits.idlePollMillis) else { continue }
            }
            let message = try wire.receive()
            if case .have = message {
                try takeHave(message, id: id, pieceCount: context.metadata.pieceCount)
            } else if let expected = pending.first {
                pending.removeFirst()
                try handle(message, expected: expected, id: id, userID: userID, context: context)
            } else {
                throw PeerViolation("unexpected \(message.kind) message")
            }
        }
    }

    /// `have` messages for `pieces` (any order), ascending and at most `haveIndicesMax` each.
    static func haves(of pieces: [Int], fileName: String) -> [PieceMessage] {
        let sorted = pieces.sorted()
        var messages: [PieceMessage] = []
        var start = 0
        while start < sorted.count {
            let end = min(sorted.count, start + TransferLimits.haveIndicesMax)
            messages.append(.have(fileName: fileName, pieces: sorted[start..<end].map { UInt32($0) }))
            start = end
        }
        return messages
    }

    private func takeHave(_ message: PieceMessage, id: Int, pieceCount: Int) throws {
        if let why = PeerMessageCheck.violation(of: message, expecting: .have(fileName: fileName, pieceCount: pieceCount)) {
            throw PeerViolation(why)
        }
        guard case let .have(_, pieces) = message else { return }
        scheduler.withLock { $0!.addHoldings(id, pieces: pieces.map { Int($0) }) }
    }

    private func handle(_ message: PieceMessage, expected: Pending, id: Int, userID: String, context: Context) throws {
        let expectation: PeerMessageCheck.Expectation = switch expected {
        case .bitfield: .bitfield(fileName: fileName, pieceCount: context.metadata.pieceCount)
        case let .piece(index): .piece(index: index)
        }
        if let why = PeerMessageCheck.violation(of: message, expecting: expectation) { throw PeerViolation(why) }
        switch (message, expected) {
        case let (.bitfield(_, bits), .bitfield):
            guard let holds = PieceScheduler.flags(of: bits, pieceCount: context.metadata.pieceCount) else {
                throw PeerViolation("malformed bitfield")
            }
            scheduler.withLock { $0!.setHoldings(id, holds: holds) }
        case (.reject, .bitfield):
            scheduler.withLock { $0!.setHoldings(id, holds: Array(repeating: false, count: context.metadata.pieceCount)) }
        case let (.reject, .piece(index)):
            // Refused (e.g. a super-seeding server offered it to another downloader): not held there.
            scheduler.withLock { $0!.cancelRequest(id, index: index, isHeld: false) }
        case let (.piece(_, bytes), .piece(expectedIndex)):
            try accept(piece: expectedIndex, bytes: bytes, id: id, userID: userID, context: context)
        default:
            throw PeerViolation("answered out of order")
        }
    }

    private func accept(piece index: Int, bytes: [UInt8], id: Int, userID: String, context: Context) throws {
        let offset = UInt64(index) * UInt64(TransferLimits.pieceSizeBytes)
        let expectedLength = Int(min(UInt64(TransferLimits.pieceSizeBytes), context.metadata.sizeBytes - offset))
        let isValid = bytes.count == expectedLength && SHA1.hash(bytes)[...] == context.metadata.pieceHash(at: index)
        let outcome = scheduler.withLock { $0!.received(id, userID: userID, index: index, byteCount: bytes.count, isValid: isValid) }
        switch outcome {
        case .accepted:
            live.withLock { l in
                if l.firstPieceMillis == 0 { l.firstPieceMillis = monotonicNowMillis() }
                if l.bytesByUser[userID] != nil || l.bytesByUser.count < TransferLimits.peersPerDownloadMax * 4 {
                    l.bytesByUser[userID, default: 0] += UInt64(bytes.count)
                }
            }
            // The first verified copy: the writer thread writes it, then serves and hashes it.
            context.writer.enqueue(index: index, bytes: bytes)
        case .duplicate:
            break
        case .rejected:
            environment.log("bad piece rejected user=\(logSafe(userID)) piece=\(index)")
        case .peerDropped:
            environment.log("peer dropped for bad pieces user=\(logSafe(userID))")
            throw DownloadFailure("peer \(userID) sent bad pieces")
        }
    }
}

/// A peer sent something the piece protocol does not allow at that point.
struct PeerViolation: Error, CustomStringConvertible {
    var why: String
    init(_ why: String) { self.why = why }
    var description: String { "peer broke the protocol: \(why)" }
}

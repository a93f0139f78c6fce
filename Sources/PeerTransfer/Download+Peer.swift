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
            let address = try PeerAddress.parse(peer.peerAddress)
            let socket = try Socket.connect(host: address.host, port: address.port, timeoutMillis: TransferLimits.peerConnectTimeoutMillis)
            socketForCleanup = socket
            links.withLock { $0.live[peer.peerAddress] = .some(socket) }
            if isCancelled { throw DownloadFailure("cancelled") }
            let connection = FramedConnection(socket: socket)
            _ = try Handshake.perform(on: connection, as: .dialer, role: .piecePeer, id: UInt64(id), key: nil,
                                      auth: PeerHandshake.authenticator)
            try socket.setReceiveTimeout(millis: TransferLimits.peerReceiveTimeoutMillis)
            let wire = PieceWire(socket: socket)
            try wire.send(.open(userID: environment.userID, groupID: groupID))
            let answer = try wire.receive(maxBytes: 0)
            if let why = PeerMessageCheck.violation(of: answer, expecting: .openAnswer) { throw PeerViolation(why) }
            if case let .reject(reason) = answer { throw DownloadFailure("peer \(peer.userID) refused: \(reason)") }
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

    private func exchange(id: Int, userID: String, wire: PieceWire, context: Context) throws {
        var pending: [Pending] = []
        var random = SystemRandomNumberGenerator()
        var lastBitfieldMillis: UInt64 = 0
        while !isCancelled {
            let now = monotonicNowMillis()
            var batch: [PieceMessage] = []
            // A partial sharer (another downloader) gains pieces as it goes: ask again every
            // refresh period, pipelined with the piece requests, until it holds everything.
            if !pending.contains(.bitfield), millis(from: lastBitfieldMillis, to: now) >= UInt64(TransferLimits.bitfieldRefreshMillis),
               scheduler.withLock({ !$0!.peerIsComplete(id) }) {
                batch.append(.bitfieldRequest(fileName: fileName))
                pending.append(.bitfield)
                lastBitfieldMillis = now
            }
            let requests = scheduler.withLock { s -> [Int] in
                var picked: [Int] = []
                // Read under the lock, so no peer connected after this reading.
                let depth = s!.requestDepth(for: id, nowMillis: monotonicNowMillis())
                var inFlight = pending.count { $0 != .bitfield }
                while inFlight < depth, let index = s!.nextRequest(for: id, random: &random) {
                    picked.append(index)
                    inFlight += 1
                }
                return picked
            }
            for index in requests {
                batch.append(.request(groupID: groupID, fileName: fileName, index: UInt32(index)))
                pending.append(.piece(index))
            }
            if !batch.isEmpty { try wire.send(batch) }
            if pending.isEmpty {
                if scheduler.withLock({ $0!.isComplete }) { return }
                usleep(UInt32(TransferLimits.bitfieldRefreshMillis * 1_000 / 2))
                continue
            }
            try handle(try wire.receive(), expected: pending.removeFirst(), id: id, userID: userID, context: context)
        }
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
            scheduler.withLock { $0!.cancelRequest(id, index: index) }
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

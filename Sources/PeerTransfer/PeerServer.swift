import Foundation
import Hashing
import Networking
import Synchronization

/// Decides whether `userID`, connecting from `remoteHost`, may download from `groupID`:
/// nil to accept, or the reason to refuse. The client asks the tracker (once per connection).
public typealias PeerAuthorizer = @Sendable (_ userID: String, _ groupID: String, _ remoteHost: String) -> String?

/// The handshake callbacks over libcrypto, shared by both ends of piece connections.
public enum PeerHandshake {
    /// HMAC-SHA256, secure random nonces, constant-time comparison (no key is used between peers).
    public static let authenticator = HandshakeAuthenticator(
        mac: { key, message in HMACSHA256.authenticate(key: key, message: message) },
        randomBytes: { count in (try? SecureRandom.bytes(count: count)) ?? [UInt8](repeating: 0, count: count) },
        isEqual: { ConstantTime.isEqual($0, $1) })
}

/// Serves pieces of the files in a `ShareRegistry` on `IP:PORT`: one thread accepts, one thread
/// per connection answers (at most `TransferLimits.uploadsMax` at once). A connection first
/// names its user and group; `authorize` decides once. Requests name (group, file, index),
/// never a path; a peer that sends garbage or vanishes only ends its own connection.
public final class PeerServer: Sendable {
    private let listener: Socket
    private let registry: ShareRegistry
    private let authorize: PeerAuthorizer
    private let log: @Sendable (String) -> Void
    private let connections = Mutex<[ObjectIdentifier: Socket]>([:])
    private let isStopped = Atomic<Bool>(false)
    /// Test-only: how many more served pieces get a flipped byte (see `--test-corrupt-pieces`).
    private let corruptPiecesLeft: Atomic<Int>
    private let servedPieces = Atomic<Int>(0)
    /// Test-only: a pause before each served piece, to make a sharer slow (see `--test-serve-delay-ms`).
    private let serveDelayMillis: Int

    /// Listens on `host:port` (port 0 picks one; see `port`).
    public init(host: String, port: UInt16, registry: ShareRegistry, corruptPieces: Int = 0, serveDelayMillis: Int = 0,
                log: @escaping @Sendable (String) -> Void = { _ in }, authorize: @escaping PeerAuthorizer) throws {
        listener = try Socket.listen(host: host, port: port)
        self.registry = registry
        self.authorize = authorize
        self.log = log
        corruptPiecesLeft = Atomic(corruptPieces)
        self.serveDelayMillis = serveDelayMillis
    }

    /// The port it listens on.
    public var port: UInt16 { (try? listener.localPort) ?? 0 }

    /// Pieces sent so far.
    public var servedPieceCount: Int { servedPieces.load(ordering: .relaxed) }

    /// Starts the accept thread.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "peer-server-accept"
        thread.start()
    }

    /// Stops accepting and ends every connection.
    public func stop() {
        isStopped.store(true, ordering: .sequentiallyConsistent)
        try? listener.shutdown(.both)
        let open = connections.withLock { Array($0.values) }
        for socket in open { try? socket.shutdown(.both) }
    }

    private func acceptLoop() {
        while !isStopped.load(ordering: .sequentiallyConsistent) {
            guard let socket = try? listener.accept() else {
                if isStopped.load(ordering: .sequentiallyConsistent) { break }
                usleep(10_000)
                continue
            }
            let admitted = connections.withLock { open -> Bool in
                guard open.count < TransferLimits.uploadsMax else { return false }
                open[ObjectIdentifier(socket)] = socket
                return true
            }
            let thread = Thread { [self] in
                serve(socket, admitted: admitted)
                if admitted { _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(socket)) } }
                socket.close()
            }
            thread.name = "peer-server-connection"
            thread.start()
        }
    }

    private func serve(_ socket: Socket, admitted: Bool) {
        let connection = FramedConnection(socket: socket)
        do {
            _ = try Handshake.perform(on: connection, as: .acceptor, role: .piecePeer, id: 0, key: nil,
                                      auth: PeerHandshake.authenticator)
            let wire = PieceWire(socket: socket)
            try socket.setReceiveTimeout(millis: TransferLimits.peerReceiveTimeoutMillis * 6)
            guard admitted else {
                try wire.send(.reject(reason: "too many uploads; try again later"))
                return
            }
            guard case let .open(userID, groupID) = try wire.receive(maxBytes: 0) else {
                try wire.send(.reject(reason: "expected open"))
                return
            }
            let remoteHost = (try? socket.remoteAddress.host) ?? ""
            if let reason = authorize(userID, groupID, remoteHost) {
                log("peer refused user=\(userID) group=\(groupID) reason=\(reason)")
                try wire.send(.reject(reason: reason))
                return
            }
            try wire.send(.opened)
            try answerRequests(on: wire, groupID: groupID)
        } catch {
            // A peer that vanished or sent garbage: its connection ends, nothing else does.
        }
    }

    private func answerRequests(on wire: PieceWire, groupID: String) throws {
        var openFile: PieceFile?
        while !isStopped.load(ordering: .relaxed) {
            switch try wire.receive(maxBytes: 0) {
            case let .bitfieldRequest(fileName):
                if let share = registry.share(groupID: groupID, fileName: fileName) {
                    try wire.send(.bitfield(fileName: fileName, pieces: share.pieces))
                } else {
                    try wire.send(.reject(reason: "not sharing \(fileName)"))
                }
            case let .request(requestGroup, fileName, index):
                try answerPieceRequest(on: wire, sessionGroup: groupID, groupID: requestGroup, fileName: fileName,
                                       index: Int(index), openFile: &openFile)
            default:
                try wire.send(.reject(reason: "unexpected message"))
                return
            }
        }
    }

    private func answerPieceRequest(on wire: PieceWire, sessionGroup: String, groupID: String, fileName: String, index: Int,
                                    openFile: inout PieceFile?) throws {
        guard groupID == sessionGroup else { return try wire.send(.reject(reason: "connection is open for another group")) }
        guard let share = registry.share(groupID: groupID, fileName: fileName) else {
            return try wire.send(.reject(reason: "not sharing \(fileName)"))
        }
        guard index < share.pieceCount, share.pieces[index / 8] & (0x80 >> UInt8(index % 8)) != 0 else {
            return try wire.send(.reject(reason: "piece \(index) not held"))
        }
        let offset = UInt64(index) * UInt64(TransferLimits.pieceSizeBytes)
        let length = Int(min(UInt64(TransferLimits.pieceSizeBytes), share.sizeBytes - offset))
        // The connection keeps its last file open (a share's path changes once, when a
        // download completes and its file is renamed into place).
        if openFile?.path != share.path { openFile = try? PieceFile.openForReading(share.path) }
        guard let file = openFile else { return try wire.send(.reject(reason: "file unavailable")) }
        if serveDelayMillis > 0 { usleep(UInt32(serveDelayMillis * 1_000)) }
        let corrupt = corruptPiecesLeft.load(ordering: .relaxed) > 0
            && corruptPiecesLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0
        let sent = try wire.sendPiece(index: UInt32(index), length: length) { buffer in
            guard (try? file.read(into: buffer, at: offset)) == true else { return false }
            if corrupt { buffer[0] ^= 0xFF }
            return true
        }
        if sent { servedPieces.wrappingAdd(1, ordering: .relaxed) } else { try wire.send(.reject(reason: "file unavailable")) }
    }
}

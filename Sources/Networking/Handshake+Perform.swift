import BinaryCoding

/// The connection handshake, the same function for both ends.
///
/// 1. Both sides send a `Hello` and read the peer's; bad magic or another version fails here,
///    on both sides, each with its own clear error.
/// 2. The acceptor sends `challenge` when it has a cluster key, else `welcome` (done).
/// 3. On `challenge` the dialer sends its proof; the acceptor verifies it (else `rejection`)
///    and answers with its own proof, which the dialer verifies.
///
/// A proof is MAC(key, "p2pt-auth-v2" | direction | dialer's hello | acceptor's hello): it binds
/// both ids, both roles, both nonces and which way it travels (dialer→acceptor or
/// acceptor→dialer), so it cannot be replayed on another connection, relayed to a tracker other
/// than the one it was made for, or reflected back as the other side's proof. A dialer that
/// knows whom it dialed (`expectedPeerID`) refuses an acceptor announcing another id, so a
/// proof it makes is only ever valid for the tracker it meant to reach. A side with a key never
/// accepts a peer that did not prove it, and a peer echoing our nonce is refused. The handshake
/// authenticates the peer; it does not encrypt or protect the frames that follow.
public enum Handshake {
    /// The protocol version this build speaks.
    public static let protocolVersion: UInt16 = 1
    /// Domain-separation label at the start of every proof message.
    public static let proofLabel: [UInt8] = Array("p2pt-auth-v2".utf8)

    /// Which way a proof travels; part of what it proves, so that one side's proof is never
    /// valid as the other side's.
    public enum ProofDirection: UInt8, Sendable {
        /// The dialer proves itself to the acceptor.
        case dialerToAcceptor = 1
        /// The acceptor proves itself to the dialer.
        case acceptorToDialer = 2
    }

    /// Which end of the connection this side is.
    public enum Side: Sendable {
        /// The side that called `connect`.
        case dialer
        /// The side that called `accept`; it decides whether proof is required.
        case acceptor
    }

    /// Runs the handshake and returns the peer's hello. `keyFor`, when given, picks the key by
    /// the role the peer announces (a tracker requires the cluster key of peer trackers, not of
    /// clients); otherwise `key` applies to every peer. A dialer given `expectedPeerID` refuses an
    /// acceptor whose hello names another id. The whole handshake must finish within
    /// `timeoutMillis` (a deadline, not a per-read timeout: a peer dribbling bytes cannot stretch
    /// it); the socket's own receive timeout is left as it was. On any failure the connection is
    /// closed (after a best-effort `rejection` frame) and the error rethrown.
    public static func perform(
        on connection: FramedConnection, as side: Side, role: PeerRole, id: UInt64, key: [UInt8]?,
        auth: HandshakeAuthenticator, protocolVersion: UInt16 = Handshake.protocolVersion,
        timeoutMillis: Int = NetworkingLimits.handshakeTimeoutMillis, expectedPeerID: UInt64? = nil,
        keyFor: (@Sendable (PeerRole) -> [UInt8]?)? = nil
    ) throws -> Hello {
        do {
            let deadline = ContinuousClock.now + .milliseconds(max(0, timeoutMillis))
            let nonce = auth.randomBytes(NetworkingLimits.nonceBytes)
            let ours = Hello(protocolVersion: protocolVersion, role: role, senderID: id, nonce: nonce)
            try connection.writeFrame(Frame(type: HandshakeFrameType.hello.rawValue, payload: ours.encoded()))
            let helloFrame = try read(.hello, from: connection, deadline: deadline)
            let peer = try Hello.decode(helloFrame.payload, expectedVersion: protocolVersion)
            guard peer.nonce != ours.nonce else { throw refuse(connection, .reflectedNonce) }
            if side == .dialer, let expectedPeerID, peer.senderID != expectedPeerID {
                throw refuse(connection, .unexpectedPeer(expected: expectedPeerID, announced: peer.senderID))
            }
            let effectiveKey = keyFor.map { $0(peer.role) } ?? key
            let session = Session(connection: connection, side: side, ours: ours, peer: peer, key: effectiveKey,
                                  auth: auth, deadline: deadline)
            switch side {
            case .dialer: try session.authenticateAsDialer()
            case .acceptor: try session.authenticateAsAcceptor()
            }
            return peer
        } catch {
            connection.close()
            throw error
        }
    }

    /// Whether two byte arrays are equal, in time that depends only on their lengths.
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// The message MACed to prove the key: label | direction | the dialer's hello | the
    /// acceptor's hello (each hello: magic, version, role, id, nonce).
    public static func proofMessage(_ direction: ProofDirection, dialer: Hello, acceptor: Hello) -> [UInt8] {
        var writer = ByteWriter(capacity: proofLabel.count + 1 + 2 * Hello.encodedByteCount)
        writer.writeRaw(proofLabel)
        writer.write(direction.rawValue)
        writer.writeRaw(dialer.encoded())
        writer.writeRaw(acceptor.encoded())
        return writer.bytes
    }

    /// Reads the next handshake frame before `deadline`, accepting only `expected` types; a
    /// rejection becomes `.rejectedByPeer`, framing errors become handshake errors.
    static func read(
        _ expected: HandshakeFrameType..., from connection: FramedConnection, deadline: ContinuousClock.Instant
    ) throws -> Frame {
        let frame: Frame
        do {
            frame = try connection.readFrame(maxBytes: NetworkingLimits.handshakeFrameBytesMax, deadline: deadline)
        } catch let error as FrameError {
            switch error {
            case .oversized: throw HandshakeError.notAHello(error.description)
            case .truncated, .closed: throw HandshakeError.connectionClosed
            }
        }
        if frame.type == HandshakeFrameType.rejection.rawValue, !expected.contains(.rejection) {
            throw HandshakeError.rejectedByPeer(String(decoding: frame.payload, as: UTF8.self))
        }
        guard expected.contains(where: { $0.rawValue == frame.type }) else {
            let names = expected.map { "\($0)" }.joined(separator: " or ")
            throw HandshakeError.unexpectedFrame(type: frame.type, expecting: "\(names) frame")
        }
        return frame
    }

    /// Sends a best-effort rejection naming `error`, and returns the error for the caller to throw.
    static func refuse(_ connection: FramedConnection, _ error: HandshakeError) -> HandshakeError {
        let reason = Array(error.description.utf8.prefix(NetworkingLimits.rejectionReasonBytesMax))
        try? connection.writeFrame(Frame(type: HandshakeFrameType.rejection.rawValue, payload: reason))
        return error
    }
}

/// The authentication step of one handshake, after the hellos.
private struct Session {
    let connection: FramedConnection
    let side: Handshake.Side
    let ours: Hello
    let peer: Hello
    let key: [UInt8]?
    let auth: HandshakeAuthenticator
    let deadline: ContinuousClock.Instant

    func authenticateAsAcceptor() throws {
        guard let key else {
            try connection.writeFrame(Frame(type: HandshakeFrameType.welcome.rawValue))
            return
        }
        try connection.writeFrame(Frame(type: HandshakeFrameType.challenge.rawValue))
        let proof = try Handshake.read(.proof, from: connection, deadline: deadline)
        guard isValid(proof.payload, key: key) else { throw Handshake.refuse(connection, .authenticationFailed) }
        try sendProof(key: key)
    }

    func authenticateAsDialer() throws {
        let decision = try Handshake.read(.challenge, .welcome, from: connection, deadline: deadline)
        if decision.type == HandshakeFrameType.welcome.rawValue {
            if key != nil { throw Handshake.refuse(connection, .peerSkippedAuthentication) }
            return
        }
        guard let key else { throw Handshake.refuse(connection, .keyRequiredByPeer) }
        try sendProof(key: key)
        let proof = try Handshake.read(.proof, from: connection, deadline: deadline)
        guard isValid(proof.payload, key: key) else { throw Handshake.refuse(connection, .authenticationFailed) }
    }

    private var dialerHello: Hello { side == .dialer ? ours : peer }
    private var acceptorHello: Hello { side == .dialer ? peer : ours }

    private func sendProof(key: [UInt8]) throws {
        let direction: Handshake.ProofDirection = side == .dialer ? .dialerToAcceptor : .acceptorToDialer
        let mac = auth.mac(key, Handshake.proofMessage(direction, dialer: dialerHello, acceptor: acceptorHello))
        precondition(mac.count == NetworkingLimits.proofBytes, "the injected MAC must return 32 bytes")
        try connection.writeFrame(Frame(type: HandshakeFrameType.proof.rawValue, payload: mac))
    }

    private func isValid(_ proof: [UInt8], key: [UInt8]) -> Bool {
        let direction: Handshake.ProofDirection = side == .dialer ? .acceptorToDialer : .dialerToAcceptor
        let expected = auth.mac(key, Handshake.proofMessage(direction, dialer: dialerHello, acceptor: acceptorHello))
        return proof.count == NetworkingLimits.proofBytes && auth.isEqual(proof, expected)
    }
}

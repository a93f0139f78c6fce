/// The acceptor's side of `Handshake` as a state machine without I/O, for an event loop that
/// cannot block on a connection: it is fed the frames that arrive and says which to send. The
/// rules are those of `Handshake.perform(as: .acceptor)`: the same hello, the same proof
/// binding (label, direction, both hellos), a reflected nonce refused, a rejection frame sent
/// (best effort) before a refusal, the key chosen by the role the peer announces. The caller
/// enforces the deadline (the handshake must end within it, however the bytes trickle in) and
/// reads frames with `NetworkingLimits.handshakeFrameBytesMax`.
public struct AcceptorHandshake: Sendable {
    /// What to do after a frame arrived.
    public enum Step: Sendable, Equatable {
        /// Send these frames and wait for the next one.
        case send([Frame])
        /// The handshake succeeded: send these frames; the connection now belongs to `peer`.
        case done(peer: Hello, send: [Frame])
        /// The handshake failed: send these frames (a rejection, possibly none), then close.
        case failed(HandshakeError, send: [Frame])
    }

    private enum Phase: Sendable {
        case awaitingHello
        case awaitingProof(peer: Hello, key: [UInt8])
        case finished
    }

    /// This side's hello, sent first (see `greeting`).
    public let ours: Hello
    private let auth: HandshakeAuthenticator
    private let keyFor: @Sendable (PeerRole) -> [UInt8]?
    private var phase = Phase.awaitingHello

    /// Starts a handshake as acceptor with a fresh nonce; `keyFor` gives the key a peer of each
    /// role must prove (nil: none).
    public init(role: PeerRole, id: UInt64, auth: HandshakeAuthenticator, protocolVersion: UInt16 = Handshake.protocolVersion,
                keyFor: @escaping @Sendable (PeerRole) -> [UInt8]?) {
        ours = Hello(protocolVersion: protocolVersion, role: role, senderID: id, nonce: auth.randomBytes(NetworkingLimits.nonceBytes))
        self.auth = auth
        self.keyFor = keyFor
    }

    /// The frame to send as soon as the connection is accepted: this side's hello.
    public var greeting: Frame { Frame(type: HandshakeFrameType.hello.rawValue, payload: ours.encoded()) }

    /// Whether the handshake ended (succeeded or failed); later frames are not handshake frames.
    public var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// Takes the next frame from the peer.
    public mutating func receive(_ frame: Frame) -> Step {
        switch phase {
        case .awaitingHello:
            return receiveHello(frame)
        case let .awaitingProof(peer, key):
            return receiveProof(frame, peer: peer, key: key)
        case .finished:
            return .failed(.unexpectedFrame(type: frame.type, expecting: "nothing"), send: [])
        }
    }

    /// The handshake error for a framing failure while handshaking (garbage announcing a large
    /// frame, or the peer closing).
    public static func error(for frameError: FrameError) -> HandshakeError {
        switch frameError {
        case .oversized: return .notAHello(frameError.description)
        case .truncated, .closed: return .connectionClosed
        }
    }

    private mutating func receiveHello(_ frame: Frame) -> Step {
        if let refusal = Self.unexpected(frame, expecting: .hello) { return fail(refusal, reject: false) }
        let peer: Hello
        do { peer = try Hello.decode(frame.payload, expectedVersion: ours.protocolVersion) } catch { return fail(error, reject: false) }
        guard peer.nonce != ours.nonce else { return fail(.reflectedNonce, reject: true) }
        guard let key = keyFor(peer.role) else {
            phase = .finished
            return .done(peer: peer, send: [Frame(type: HandshakeFrameType.welcome.rawValue)])
        }
        phase = .awaitingProof(peer: peer, key: key)
        return .send([Frame(type: HandshakeFrameType.challenge.rawValue)])
    }

    private mutating func receiveProof(_ frame: Frame, peer: Hello, key: [UInt8]) -> Step {
        if let refusal = Self.unexpected(frame, expecting: .proof) { return fail(refusal, reject: false) }
        let expected = auth.mac(key, Handshake.proofMessage(.dialerToAcceptor, dialer: peer, acceptor: ours))
        guard frame.payload.count == NetworkingLimits.proofBytes, auth.isEqual(frame.payload, expected) else {
            return fail(.authenticationFailed, reject: true)
        }
        let mac = auth.mac(key, Handshake.proofMessage(.acceptorToDialer, dialer: peer, acceptor: ours))
        guard mac.count == NetworkingLimits.proofBytes else { return fail(.authenticationFailed, reject: true) }
        phase = .finished
        return .done(peer: peer, send: [Frame(type: HandshakeFrameType.proof.rawValue, payload: mac)])
    }

    /// A peer's rejection, or a frame of another type than `expected`, as the blocking
    /// handshake's `read` reports them.
    private static func unexpected(_ frame: Frame, expecting expected: HandshakeFrameType) -> HandshakeError? {
        if frame.type == expected.rawValue { return nil }
        if frame.type == HandshakeFrameType.rejection.rawValue {
            return .rejectedByPeer(String(decoding: frame.payload, as: UTF8.self))
        }
        return .unexpectedFrame(type: frame.type, expecting: "\(expected) frame")
    }

    private mutating func fail(_ error: HandshakeError, reject: Bool) -> Step {
        phase = .finished
        guard reject else { return .failed(error, send: []) }
        let reason = Array(error.description.utf8.prefix(NetworkingLimits.rejectionReasonBytesMax))
        return .failed(error, send: [Frame(type: HandshakeFrameType.rejection.rawValue, payload: reason)])
    }
}

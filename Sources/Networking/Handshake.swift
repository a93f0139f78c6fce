import BinaryCoding

/// What kind of process is on the other end of a connection.
public enum PeerRole: UInt8, Sendable, CaseIterable {
    /// Another tracker of the cluster (Raft traffic).
    case tracker = 1
    /// A client talking to a tracker.
    case client = 2
    /// A client serving or fetching file pieces from another client.
    case piecePeer = 3
}

/// Frame types the handshake uses; all below `Frame.firstApplicationType`.
public enum HandshakeFrameType: UInt8, Sendable {
    /// Each side's first frame: a `Hello`.
    case hello = 1
    /// Acceptor → dialer: prove knowledge of the cluster key (sent only when a key is configured).
    case challenge = 2
    /// Acceptor → dialer: no proof required; the handshake is complete.
    case welcome = 3
    /// A 32-byte MAC proving knowledge of the cluster key.
    case proof = 4
    /// Either side: the handshake failed; the payload is a short UTF-8 reason.
    case rejection = 5
}

/// The first frame each way: magic `P2PT`, `u16` protocol version, `u8` role, `u64` sender id,
/// 16-byte nonce (31 bytes, big-endian).
public struct Hello: Equatable, Sendable {
    /// The magic bytes that start every hello: ASCII `P2PT`.
    public static let magic: [UInt8] = Array("P2PT".utf8)
    /// Bytes of an encoded hello.
    public static let encodedByteCount = 4 + 2 + 1 + 8 + NetworkingLimits.nonceBytes

    /// The sender's wire protocol version.
    public var protocolVersion: UInt16
    /// What the sender is.
    public var role: PeerRole
    /// The sender's id: a tracker's node id, or a client's id.
    public var senderID: UInt64
    /// Fresh random bytes for this connection (`NetworkingLimits.nonceBytes` of them).
    public var nonce: [UInt8]

    /// Makes a hello.
    public init(protocolVersion: UInt16, role: PeerRole, senderID: UInt64, nonce: [UInt8]) {
        self.protocolVersion = protocolVersion
        self.role = role
        self.senderID = senderID
        self.nonce = nonce
    }

    /// The 31-byte wire form.
    public func encoded() -> [UInt8] {
        precondition(nonce.count == NetworkingLimits.nonceBytes, "a hello nonce is 16 bytes")
        var writer = ByteWriter(capacity: Self.encodedByteCount)
        writer.writeRaw(Self.magic)
        writer.write(protocolVersion)
        writer.write(role.rawValue)
        writer.write(senderID)
        writer.writeRaw(nonce)
        return writer.bytes
    }

    /// Decodes a hello, checking the magic, then the version (before the rest of the layout, which
    /// a later version may change), then the fields.
    public static func decode(_ payload: [UInt8], expectedVersion: UInt16) throws(HandshakeError) -> Hello {
        var reader = ByteReader(payload)
        guard (try? reader.readRaw(count: magic.count)) == magic else { throw .badMagic }
        guard let version = try? reader.readUInt16() else { throw .malformedHello("truncated version") }
        guard version == expectedVersion else { throw .versionMismatch(peer: version, expected: expectedVersion) }
        do {
            let roleByte = try reader.readUInt8()
            guard let role = PeerRole(rawValue: roleByte) else { throw HandshakeError.malformedHello("unknown role \(roleByte)") }
            let senderID = try reader.readUInt64()
            let nonce = try reader.readRaw(count: NetworkingLimits.nonceBytes)
            try reader.expectEnd()
            return Hello(protocolVersion: version, role: role, senderID: senderID, nonce: nonce)
        } catch let error as HandshakeError {
            throw error
        } catch {
            throw .malformedHello("\(error)")
        }
    }
}

/// Why a handshake failed. The connection is closed when `Handshake.perform` throws.
public enum HandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first bytes were not a frame a hello could fit in (e.g. an HTTP request).
    case notAHello(String)
    /// The first frame did not start with `P2PT`.
    case badMagic
    /// The hello had the right magic and version but a bad layout.
    case malformedHello(String)
    /// The peer speaks another protocol version.
    case versionMismatch(peer: UInt16, expected: UInt16)
    /// A frame of the wrong type arrived.
    case unexpectedFrame(type: UInt8, expecting: String)
    /// The peer sent back our own nonce (a reflection attempt).
    case reflectedNonce
    /// The dialer reached a peer announcing another id than the one it dialed.
    case unexpectedPeer(expected: UInt64, announced: UInt64)
    /// The acceptor asked for proof of the cluster key, but none is configured here.
    case keyRequiredByPeer
    /// A cluster key is configured here, but the acceptor did not ask for proof (downgrade refused).
    case peerSkippedAuthentication
    /// The peer's proof did not match the cluster key.
    case authenticationFailed
    /// The peer refused the handshake and said why.
    case rejectedByPeer(String)
    /// The peer closed the connection during the handshake.
    case connectionClosed

    /// One line, e.g. `protocol version 2, expected 1`.
    public var description: String {
        switch self {
        case .notAHello(let why): return "peer did not send a hello: \(why)"
        case .badMagic: return "peer did not send a hello: bad magic (expected P2PT)"
        case .malformedHello(let why): return "malformed hello: \(why)"
        case .versionMismatch(let peer, let expected): return "protocol version \(peer), expected \(expected)"
        case .unexpectedFrame(let type, let expecting): return "expected \(expecting), got frame type \(type)"
        case .reflectedNonce: return "peer reflected our nonce"
        case .unexpectedPeer(let expected, let announced): return "dialed tracker \(expected), but the peer says it is \(announced)"
        case .keyRequiredByPeer: return "peer requires a cluster key, but none is configured"
        case .peerSkippedAuthentication: return "a cluster key is configured, but the peer did not ask for proof"
        case .authenticationFailed: return "peer failed to prove knowledge of the cluster key"
        case .rejectedByPeer(let why): return "peer refused the handshake: \(why)"
        case .connectionClosed: return "connection closed during the handshake"
        }
    }
}

/// The cryptography the handshake needs, injected so this module does not depend on a crypto
/// library: executables wire in libcrypto's HMAC-SHA256 and secure random bytes.
public struct HandshakeAuthenticator: Sendable {
    /// HMAC-SHA256(key, message): must return `NetworkingLimits.proofBytes` (32) bytes.
    public var mac: @Sendable (_ key: [UInt8], _ message: [UInt8]) -> [UInt8]
    /// `count` cryptographically secure random bytes.
    public var randomBytes: @Sendable (_ count: Int) -> [UInt8]
    /// Compares two MACs in time independent of where they differ.
    public var isEqual: @Sendable (_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool

    /// Makes an authenticator; the comparison defaults to `Handshake.constantTimeEquals`.
    public init(
        mac: @escaping @Sendable (_ key: [UInt8], _ message: [UInt8]) -> [UInt8],
        randomBytes: @escaping @Sendable (_ count: Int) -> [UInt8],
        isEqual: @escaping @Sendable (_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool = Handshake.constantTimeEquals
    ) {
        self.mac = mac
        self.randomBytes = randomBytes
        self.isEqual = isEqual
    }
}

import Consensus
import Networking
import Synchronization

/// One accepted socket the event loop owns, from accept to close. Only the loop touches it,
/// and only the loop closes it. Its bytes pass through `tls` when the tracker serves TLS:
/// ciphertext from the socket is fed to it and the plaintext it yields goes to `decoder`;
/// frames to send are sealed by it before they join `outbox`.
final class Connection {
    /// What the connection is now.
    enum Kind: Equatable {
        /// Accepted, handshake under way (`handshake` holds its state).
        case handshaking
        /// A client after its handshake: requests in, replies out.
        case client
        /// A peer tracker that dialed us: Raft messages and snapshot chunks in, resume answers out.
        case peer(NodeID)
    }

    /// Never reused: replies name the connection by it, so a reply can never reach a later
    /// connection that got the same descriptor.
    let number: UInt64
    let socket: Socket
    let remote: PeerAddress
    let openedAtMillis: UInt64
    var kind: Kind = .handshaking
    /// A `tracker-node member ...` tool (a client connection that proved the cluster key under
    /// tracker id 0): it sends `AdminCodec` requests instead of client requests.
    var isAdmin = false
    var handshake: AcceptorHandshake?
    /// The TLS layer; nil: the connection is plaintext.
    var tls: TLSTransport?
    var decoder = FrameDecoder()
    var outbox = Outbox()
    /// What the loop's `EventPoll` watches it for now.
    var watched: PollEvents = .readable
    /// A client's requests read and not yet answered (the reply not yet with the kernel).
    var inFlight = 0
    /// When a client's last whole request was taken (or its handshake ended).
    var lastRequestMillis: UInt64

    init(number: UInt64, socket: Socket, remote: PeerAddress, tls: TLSTransport?, nowMillis: UInt64) {
        self.number = number
        self.socket = socket
        self.remote = remote
        self.tls = tls
        openedAtMillis = nowMillis
        lastRequestMillis = nowMillis
    }

    /// Whether the loop takes frames from it now: not a client whose window is full.
    var isReading: Bool {
        kind != .client || inFlight < ConnectionLimits.requestsInFlightPerConnectionMax
    }

    /// The largest frame accepted in its current state.
    var frameBytesMax: Int {
        switch kind {
        case .handshaking: NetworkingLimits.handshakeFrameBytesMax
        case .client: ConnectionLimits.clientFrameBytesMax
        case .peer: NetworkingLimits.frameBytesMax
        }
    }

    /// For logs: "client", "handshake" or the peer's id.
    var peerLabel: String {
        switch kind {
        case .handshaking: "handshake"
        case .client: "client"
        case let .peer(id): "\(id)"
        }
    }
}

/// Client connections open now, for the metrics endpoint's thread.
final class ConnectionGauge: Sendable {
    private let clients = Atomic<Int>(0)
    var count: Int { clients.load(ordering: .relaxed) }
    func add(_ delta: Int) { clients.wrappingAdd(delta, ordering: .relaxed) }
}

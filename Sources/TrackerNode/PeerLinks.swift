import Consensus
import Foundation
import Networking
import TrackerHosting
import TrackerProtocol

/// How this tracker proves itself to its peers and clients: TLS with pinned certificates (nil
/// only with `--insecure`), the optional cluster key, and libcrypto for the hello's proofs.
struct PeerSecurity: Sendable {
    var key: [UInt8]?
    var authenticator: HandshakeAuthenticator
    var tls: NodeTLS?
}

/// One outgoing connection to each peer tracker. Each link has a thread that connects (with
/// backoff) and runs the handshake; after that the event loop writes Raft messages to the
/// socket itself with a non-blocking send (no thread handoff on the write path), and only what
/// the kernel does not take at once, and large snapshots (streamed in chunks), go through the
/// link's thread, in order. Messages for a link that is down, or beyond
/// `PeerLinks.pendingBytesMax` waiting on a slow one, are dropped; Raft resends what matters.
final class PeerLinks: Sendable {
    private let links: [NodeID: PeerLink]
    private let addresses: [NodeID: PeerAddress]
    private let selfID: NodeID
    private let security: PeerSecurity
    private let snapshotInlineBytesMax: Int
    /// Encoded bytes one link may hold for its thread to send before new messages are dropped.
    static let pendingBytesMax = 64 << 20
    static let connectTimeoutMillis = 500
    static let backoffMaxMillis = 1_000

    init(selfID: NodeID, peers: [NodeID: PeerAddress], security: PeerSecurity, snapshotInlineBytesMax: Int) {
        self.snapshotInlineBytesMax = snapshotInlineBytesMax
        self.selfID = selfID
        addresses = peers
        self.security = security
        var links: [NodeID: PeerLink] = [:]
        for id in peers.keys { links[id] = PeerLink() }
        self.links = links
    }

    func start() {
        for id in addresses.keys.sorted() {
            let thread = Thread { [self] in runLink(to: id) }
            thread.name = "peer-\(id)"
            thread.start()
        }
    }

    /// Called by the event loop: writes each peer's messages straight to its socket when the
    /// link is idle, else queues them for its thread.
    func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        var byPeer: [NodeID: [Message]] = [:]
        for m in messages { byPeer[m.to, default: []].append(m) }
        for id in byPeer.keys.sorted() {
            guard let link = links[id], let batch = byPeer[id] else { continue }
            link.send(batch.map { message in
                if let snapshot = message.snapshot, snapshot.data.count > snapshotInlineBytesMax { return .snapshot(message) }
                return .bytes((try? Frame.encode([Frame(type: ServiceFrame.raftMessage, payload: RaftCodec.encode(message))])) ?? [])
            })
        }
    }

    private func runLink(to id: NodeID) {
        guard let address = addresses[id], let link = links[id] else { return }
        var backoffMillis = 50
        var hasLoggedFailure = false
        while true {
            do {
                let connection = try dial(address, id: id)
                Log.info("peer connected", ["peer.id": "\(id)", "peer.address": "\(address)"])
                backoffMillis = 50
                hasLoggedFailure = false
                link.attach(connection)
                defer { link.detach() }
                try pump(link, into: connection)
            } catch {
                if !hasLoggedFailure {
                    Log.warn("peer unreachable", ["peer.id": "\(id)", "peer.address": "\(address)", "error": "\(error)",
                                                   "messages.dropped": "\(link.droppedCount)"])
                    hasLoggedFailure = true
                }
                usleep(UInt32(backoffMillis * 1000))
                backoffMillis = min(backoffMillis * 2, Self.backoffMaxMillis)
            }
        }
    }

    private func dial(_ address: PeerAddress, id: NodeID) throws -> FramedConnection {
        let socket = try Socket.connect(host: address.host, port: address.port, timeoutMillis: Self.connectTimeoutMillis)
        let connection: FramedConnection
        if let tls = security.tls {
            do {
                let deadline = ContinuousClock.now + .milliseconds(NetworkingLimits.handshakeTimeoutMillis)
                connection = FramedConnection(tls: try tls.dial(socket, tracker: id, deadline: deadline))
            } catch {
                socket.close()
                throw error
            }
        } else {
            connection = FramedConnection(socket: socket)
        }
        _ = try Handshake.perform(on: connection, as: .dialer, role: .tracker, id: selfID, key: security.key,
                                  auth: security.authenticator, expectedPeerID: id)
        return connection
    }

    /// The link's thread: sends what the event loop could not, in order, until the link fails.
    private func pump(_ link: PeerLink, into connection: FramedConnection) throws {
        defer { connection.close() }
        while true {
            for item in link.takeBacklog() {
                switch item {
                case let .bytes(bytes): try connection.stream.send(all: bytes)
                case let .snapshot(message):
                    guard let snapshot = message.snapshot else { continue }
                    try stream(snapshot, of: message, into: connection)
                }
            }
        }
    }

    /// Sends a large snapshot in chunks, from where the receiver's earlier copy left off, then
    /// the message itself without the bytes. Other followers' links are not held up.
    private func stream(_ snapshot: Snapshot, of message: Message, into connection: FramedConnection) throws {
        let meta = snapshot.meta
        let total = UInt64(snapshot.data.count)
        try connection.writeFrame(Frame(type: SnapshotTransfer.offerFrame, payload: SnapshotTransfer.encode(.init(index: meta.index, term: meta.term, value: total))))
        try connection.socket.setReceiveTimeout(millis: 5_000)
        let answer = try connection.readFrame(maxBytes: 64)
        guard answer.type == SnapshotTransfer.resumeFrame, let offset = try? SnapshotTransfer.decode(answer.payload).0.value, offset <= total else {
            throw RejectedFrame("bad answer to a snapshot offer")
        }
        let start = monotonicMillis()
        var position = Int(offset)
        while position < snapshot.data.count {
            let end = min(position + SnapshotTransfer.chunkBytes, snapshot.data.count)
            let header = SnapshotTransfer.Header(index: meta.index, term: meta.term, value: UInt64(position))
            try connection.writeFrame(Frame(type: SnapshotTransfer.chunkFrame, payload: SnapshotTransfer.encode(header, body: snapshot.data[position..<end])))
            position = end
        }
        var bare = message
        bare.snapshot = Snapshot(meta: meta, data: [])
        try connection.writeFrame(Frame(type: ServiceFrame.raftMessage, payload: RaftCodec.encode(bare)))
        Log.info("snapshot sent", ["peer.id": "\(message.to)", "snapshot.index": "\(meta.index)", "snapshot.bytes": "\(total)",
                                   "resumed.at": "\(offset)", "duration.ms": "\(monotonicMillis() - start)"])
    }
}

import Consensus
import Foundation
import Networking
import TrackerHosting
import TrackerProtocol

/// How this tracker proves itself to its peers: the cluster key (if any) and libcrypto.
struct PeerSecurity: Sendable {
    var key: [UInt8]?
    var authenticator: HandshakeAuthenticator
}

/// One outgoing connection to each peer tracker, each with its own thread: it connects (with
/// backoff), runs the handshake, then writes batches of Raft messages. Messages queued while
/// the link is down are dropped; Raft resends what matters.
final class PeerLinks: Sendable {
    private let queues: [NodeID: BlockingQueue<Message>]
    private let addresses: [NodeID: PeerAddress]
    private let selfID: NodeID
    private let security: PeerSecurity
    private let snapshotInlineBytesMax: Int
    static let queueCapacity = 8_192
    static let connectTimeoutMillis = 500
    static let backoffMaxMillis = 1_000

    init(selfID: NodeID, peers: [NodeID: PeerAddress], security: PeerSecurity, snapshotInlineBytesMax: Int) {
        self.snapshotInlineBytesMax = snapshotInlineBytesMax
        self.selfID = selfID
        addresses = peers
        self.security = security
        var queues: [NodeID: BlockingQueue<Message>] = [:]
        for id in peers.keys { queues[id] = BlockingQueue(capacity: Self.queueCapacity) }
        self.queues = queues
    }

    func start() {
        for id in addresses.keys.sorted() {
            let thread = Thread { [self] in runLink(to: id) }
            thread.name = "peer-\(id)"
            thread.start()
        }
    }

    func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        var byPeer: [NodeID: [Message]] = [:]
        for m in messages { byPeer[m.to, default: []].append(m) }
        for (id, batch) in byPeer { queues[id]?.push(contentsOf: batch) }
    }

    private func runLink(to id: NodeID) {
        let address = addresses[id]!
        let queue = queues[id]!
        var backoffMillis = 50
        var hasLoggedFailure = false
        while true {
            do {
                let connection = try dial(address, id: id)
                Log.info("peer connected", ["peer.id": "\(id)", "peer.address": "\(address)"])
                backoffMillis = 50
                hasLoggedFailure = false
                _ = queue.drain(timeoutMillis: 0) // stale messages from before the connection
                try pump(queue, into: connection)
            } catch {
                if !hasLoggedFailure {
                    Log.warn("peer unreachable", ["peer.id": "\(id)", "peer.address": "\(address)", "error": "\(error)"])
                    hasLoggedFailure = true
                }
                _ = queue.drain(timeoutMillis: 0)
                usleep(UInt32(backoffMillis * 1000))
                backoffMillis = min(backoffMillis * 2, Self.backoffMaxMillis)
            }
        }
    }

    private func dial(_ address: PeerAddress, id: NodeID) throws -> FramedConnection {
        let socket = try Socket.connect(host: address.host, port: address.port, timeoutMillis: Self.connectTimeoutMillis)
        let connection = FramedConnection(socket: socket)
        _ = try Handshake.perform(on: connection, as: .dialer, role: .tracker, id: selfID, key: security.key,
                                  auth: security.authenticator, expectedPeerID: id)
        return connection
    }

    private func pump(_ queue: BlockingQueue<Message>, into connection: FramedConnection) throws {
        defer { connection.close() }
        while true {
            let batch = queue.drain(timeoutMillis: nil)
            var frames: [Frame] = []
            for message in batch {
                if let snapshot = message.snapshot, snapshot.data.count > snapshotInlineBytesMax {
                    try connection.writeFrames(frames)
                    frames.removeAll()
                    try stream(snapshot, of: message, into: connection)
                } else {
                    frames.append(Frame(type: ServiceFrame.raftMessage, payload: RaftCodec.encode(message)))
                }
            }
            try connection.writeFrames(frames)
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

import Consensus
import Foundation
import Networking
import Synchronization
import TrackerHosting
import TrackerProtocol

/// How this tracker proves itself to its peers: the cluster key (if any) and libcrypto.
struct PeerSecurity: Sendable {
    var key: [UInt8]?
    var authenticator: HandshakeAuthenticator
}

/// One outgoing connection to each peer tracker, each with its own thread: it connects (with
/// backoff), runs the handshake, then writes batches of Raft messages. Messages queued while
/// the link is down are dropped; Raft resends what matters. The set of peers follows the
/// configuration in force (`update`): a new member gets a link, a removed one's link stops,
/// and messages to a tracker without a known address are dropped.
final class PeerLinks: Sendable {
    /// One peer's queue and address; `isStopped` ends its thread.
    private final class Link: Sendable {
        let id: NodeID
        let address: PeerAddress
        let queue = BlockingQueue<Message>(capacity: PeerLinks.queueCapacity)
        let isStopped = Atomic<Bool>(false)

        init(id: NodeID, address: PeerAddress) {
            self.id = id
            self.address = address
        }
    }

    private let links = Mutex<[NodeID: Link]>([:])
    private let selfID: NodeID
    private let security: PeerSecurity
    private let snapshotInlineBytesMax: Int
    static let queueCapacity = 8_192
    static let connectTimeoutMillis = 500
    static let backoffMaxMillis = 1_000
    /// How often an idle link checks whether it was stopped.
    static let stopCheckMillis = 500

    init(selfID: NodeID, security: PeerSecurity, snapshotInlineBytesMax: Int) {
        self.snapshotInlineBytesMax = snapshotInlineBytesMax
        self.selfID = selfID
        self.security = security
    }

    /// Links to exactly the trackers in `addresses` (this tracker's own id is skipped): new ids
    /// and changed addresses get a new link and thread, the others' links stop.
    func update(_ addresses: [NodeID: PeerAddress]) {
        let started: [Link] = links.withLock { links in
            var started: [Link] = []
            for id in links.keys.sorted() where addresses[id] != links[id]!.address {
                links.removeValue(forKey: id)!.isStopped.store(true, ordering: .relaxed)
            }
            for id in addresses.keys.sorted() where id != selfID && links[id] == nil {
                let link = Link(id: id, address: addresses[id]!)
                links[id] = link
                started.append(link)
            }
            return started
        }
        for link in started {
            let thread = Thread { [self] in runLink(link) }
            thread.name = "peer-\(link.id)"
            thread.start()
        }
    }

    func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        var byPeer: [NodeID: [Message]] = [:]
        for m in messages { byPeer[m.to, default: []].append(m) }
        let queues = links.withLock { links in byPeer.keys.compactMap { id in links[id].map { (id, $0.queue) } } }
        for (id, queue) in queues { queue.push(contentsOf: byPeer[id]!) }
    }

    private func runLink(_ link: Link) {
        let id = link.id
        let address = link.address
        let queue = link.queue
        var backoffMillis = 50
        var hasLoggedFailure = false
        while !link.isStopped.load(ordering: .relaxed) {
            do {
                let connection = try dial(address, id: id)
                Log.info("peer connected", ["peer.id": "\(id)", "peer.address": "\(address)"])
                backoffMillis = 50
                hasLoggedFailure = false
                _ = queue.drain(timeoutMillis: 0) // stale messages from before the connection
                try pump(queue, into: connection, until: link.isStopped)
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
        Log.info("peer link stopped (no longer in the configuration)", ["peer.id": "\(id)", "peer.address": "\(address)"])
    }

    private func dial(_ address: PeerAddress, id: NodeID) throws -> FramedConnection {
        let socket = try Socket.connect(host: address.host, port: address.port, timeoutMillis: Self.connectTimeoutMillis)
        let connection = FramedConnection(socket: socket)
        _ = try Handshake.perform(on: connection, as: .dialer, role: .tracker, id: selfID, key: security.key,
                                  auth: security.authenticator, expectedPeerID: id)
        return connection
    }

    private func pump(_ queue: BlockingQueue<Message>, into connection: FramedConnection, until isStopped: borrowing Atomic<Bool>) throws {
        defer { connection.close() }
        while !isStopped.load(ordering: .relaxed) {
            let batch = queue.drain(timeoutMillis: Self.stopCheckMillis)
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

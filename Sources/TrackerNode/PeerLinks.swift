import Consensus
import Foundation
import Networking
import Synchronization
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
/// The set of peers follows the configuration in force (`update`): a new member gets a link,
/// a removed one's link stops, and messages to a tracker without a known address are dropped.
final class PeerLinks: Sendable {
    /// One peer's link, address and thread; `isStopped` ends the thread.
    private final class Slot: Sendable {
        let id: NodeID
        let address: PeerAddress
        let link = PeerLink()
        let isStopped = Atomic<Bool>(false)

        init(id: NodeID, address: PeerAddress) {
            self.id = id
            self.address = address
        }
    }

    private let slots = Mutex<[NodeID: Slot]>([:])
    private let selfID: NodeID
    private let security: PeerSecurity
    private let snapshotInlineBytesMax: Int
    /// Encoded bytes one link may hold for its thread to send before new messages are dropped.
    static let pendingBytesMax = 64 << 20
    static let connectTimeoutMillis = 500
    static let backoffMaxMillis = 1_000
    /// How often an idle link checks that its peer has not closed it.
    static let idleCheckMillis = 100

    /// Whether the peer closed `socket` (end of stream or a reset), looking without taking
    /// anything (a TLS record waiting stays for the TLS layer).
    static func isClosedByPeer(_ socket: Socket) -> Bool {
        var byte: UInt8 = 0
        let count = recv(socket.descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if count == 0 { return true }
        if count > 0 { return false }
        let code = errno
        return code != EAGAIN && code != EWOULDBLOCK && code != EINTR
    }

    init(selfID: NodeID, security: PeerSecurity, snapshotInlineBytesMax: Int) {
        self.snapshotInlineBytesMax = snapshotInlineBytesMax
        self.selfID = selfID
        self.security = security
    }

    /// Links to exactly the trackers in `addresses` (this tracker's own id is skipped): new ids
    /// and changed addresses get a new link and thread, the others' links stop. The pins
    /// (with TLS) follow `configuration` first, so a new member's link dials with its pin.
    func update(_ addresses: [NodeID: PeerAddress], following configuration: Configuration) {
        security.tls?.pins.follow(configuration, reachable: addresses.keys)
        let started: [Slot] = slots.withLock { slots in
            var started: [Slot] = []
            for id in slots.keys.sorted() where addresses[id] != slots[id]!.address {
                let slot = slots.removeValue(forKey: id)!
                slot.isStopped.store(true, ordering: .relaxed)
                slot.link.detach() // wakes its thread
            }
            for id in addresses.keys.sorted() where id != selfID && slots[id] == nil {
                let slot = Slot(id: id, address: addresses[id]!)
                slots[id] = slot
                started.append(slot)
            }
            return started
        }
        for slot in started {
            let thread = Thread { [self] in runLink(slot) }
            thread.name = "peer-\(slot.id)"
            thread.start()
        }
    }

    /// Called by the event loop: writes each peer's messages straight to its socket when the
    /// link is idle, else queues them for its thread.
    func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        var byPeer: [NodeID: [Message]] = [:]
        for m in messages { byPeer[m.to, default: []].append(m) }
        let links = slots.withLock { slots in byPeer.keys.sorted().compactMap { id in slots[id].map { (id, $0.link) } } }
        for (id, link) in links {
            guard let batch = byPeer[id] else { continue }
            link.send(batch.map { message in
                if let snapshot = message.snapshot, snapshot.data.count > snapshotInlineBytesMax { return .snapshot(message) }
                return .bytes((try? Frame.encode([Frame(type: ServiceFrame.raftMessage, payload: RaftCodec.encode(message))])) ?? [])
            })
        }
    }

    private func runLink(_ slot: Slot) {
        let (id, address, link) = (slot.id, slot.address, slot.link)
        var backoffMillis = 50
        var hasLoggedFailure = false
        while !slot.isStopped.load(ordering: .relaxed) {
            do {
                let connection = try dial(address, id: id)
                Log.info("peer connected", ["peer.id": "\(id)", "peer.address": "\(address)"])
                backoffMillis = 50
                hasLoggedFailure = false
                link.attach(connection)
                defer { link.detach() }
                try pump(link, into: connection, until: slot.isStopped)
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
        Log.info("peer link stopped (no longer in the configuration)", ["peer.id": "\(id)", "peer.address": "\(address)"])
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
    private func pump(_ link: PeerLink, into connection: FramedConnection, until isStopped: borrowing Atomic<Bool>) throws {
        defer { connection.close() }
        while !isStopped.load(ordering: .relaxed) {
            // An idle link looks at its socket now and then: a peer that died (or restarted)
            // closed it, and the next message, often a vote answer, must not be the one lost
            // finding that out.
            guard let items = link.takeBacklog(waitingAtMostMillis: Self.idleCheckMillis) else {
                if Self.isClosedByPeer(connection.socket) { throw RejectedFrame("the peer closed the link") }
                continue
            }
            for item in items {
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

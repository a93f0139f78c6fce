import Consensus
import Foundation
import Networking
import Synchronization
import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

/// Accepts connections on the tracker's port and gives each a reader thread. Before a thread
/// is spent on it, a connection must fit the connection budget (which keeps descriptors free
/// for storage) and its address's share; it then has `ConnectionLimits.handshakeDeadlineMillis`
/// to finish the handshake. After the handshake a peer tracker may send only Raft messages
/// (from the id it proved), and a client only requests. A malformed frame closes that
/// connection with a logged reason; the tracker and its state are untouched.
final class Listener: Sendable {
    private let socket: Socket
    private let selfID: NodeID
    private let peerIDs: Set<NodeID>
    private let security: PeerSecurity
    let inputs: BlockingQueue<Input>
    let clients: ClientConnections
    private let limits: Limits
    let admission: Mutex<AddressAdmission>
    /// Snapshots being received, by sending peer: kept across connections so that a broken
    /// transfer resumes where it stopped.
    private let assemblies = Mutex<[NodeID: SnapshotAssembly]>([:])
    /// Refusals counted for the metrics endpoint.
    let counters: ShellCounters

    init(socket: Socket, selfID: NodeID, peerIDs: Set<NodeID>, security: PeerSecurity,
         inputs: BlockingQueue<Input>, clients: ClientConnections, limits: Limits, admission: AddressAdmission.Limits,
         counters: ShellCounters = ShellCounters()) {
        self.counters = counters
        self.limits = limits
        self.admission = Mutex(AddressAdmission(limits: admission))
        self.socket = socket
        self.selfID = selfID
        self.peerIDs = peerIDs
        self.security = security
        self.inputs = inputs
        self.clients = clients
    }

    func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "listener"
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let connectionSocket: Socket
            do {
                connectionSocket = try socket.accept()
            } catch {
                Log.warnLimited("accept failed", ["error": "\(error)"])
                usleep(UInt32(ConnectionLimits.acceptRetryMillis * 1_000))
                continue
            }
            guard let address = try? connectionSocket.remoteAddress else {
                connectionSocket.close()
                continue
            }
            if let refusal = admission.withLock({ $0.admit(address: address.host, nowMillis: monotonicMillis()) }) {
                connectionSocket.close()
                counters.count(.connection)
                Log.warnLimited("connection refused", ["remote": address.description, "reason": refusal.description])
                continue
            }
            let thread = Thread { [self] in
                serve(connectionSocket, remote: address)
                connectionSocket.close()
                admission.withLock { $0.release(address: address.host, nowMillis: monotonicMillis()) }
            }
            thread.name = "connection"
            thread.start()
        }
    }

    private func serve(_ connectionSocket: Socket, remote address: PeerAddress) {
        let connection = FramedConnection(socket: connectionSocket)
        let remote = address.description
        let hello: Hello
        do {
            try connectionSocket.setSendTimeout(millis: ConnectionLimits.acceptedSendTimeoutMillis)
            hello = try Handshake.perform(on: connection, as: .acceptor, role: .tracker, id: selfID,
                                          key: security.key, auth: security.authenticator,
                                          timeoutMillis: ConnectionLimits.handshakeDeadlineMillis,
                                          keyFor: { $0 == .tracker ? self.security.key : nil })
        } catch {
            counters.count(.handshake)
            Log.warnLimited("handshake refused", ["remote": remote, "reason": "\(error)"])
            return
        }
        switch hello.role {
        case .tracker where hello.senderID == 0:
            // `tracker-node member ...`: it proved the cluster key, as a tracker does.
            readAdminRequests(from: connection, remote: address)
        case .tracker where hello.senderID != selfID:
            // Any id that proved the cluster key: the configuration in force (not the seed
            // list in `peerIDs`) decides what the core does with its messages, so a tracker
            // that joined later can reach this one.
            // No idle timeout: a link between two followers carries nothing in steady state. The
            // peer proved the cluster key, and its links count against its address's share.
            readRaftMessages(from: connection, peer: hello.senderID, remote: remote)
        case .client:
            readRequests(from: connection, remote: address)
        default:
            counters.count(.handshake)
            Log.warnLimited("connection refused", ["remote": remote, "reason": "role \(hello.role) id \(hello.senderID) not allowed"])
            connection.close()
        }
    }

    private func readRaftMessages(from connection: FramedConnection, peer: NodeID, remote: String) {
        defer { connection.close() }
        do {
            while true {
                let frame = try connection.readFrame()
                switch frame.type {
                case ServiceFrame.raftMessage:
                    var message = try RaftCodec.decodeMessage(frame.payload)
                    if let refusal = message.validationError(linkPeer: peer, selfID: selfID) {
                        counters.count(.message)
                        Log.warn("raft message refused", ["peer.id": "\(peer)", "reason": "\(refusal)"])
                        continue
                    }
                    if message.kind == .installSnapshot, let meta = message.snapshot?.meta, message.snapshot?.data.isEmpty == true {
                        guard let data = completedSnapshot(from: peer, meta: meta) else { continue } // incomplete: the leader retries
                        message.snapshot = Snapshot(meta: meta, data: data)
                    }
                    if message.kind == .installSnapshot {
                        guard let restored = restoredState(of: message) else { continue }
                        inputs.push(.raft(message, restored: restored))
                    } else {
                        inputs.push(.raft(message))
                    }
                case SnapshotTransfer.offerFrame:
                    let (offer, _) = try SnapshotTransfer.decode(frame.payload)
                    let offset = try acceptOffer(offer, from: peer)
                    try connection.writeFrame(Frame(type: SnapshotTransfer.resumeFrame,
                                                    payload: SnapshotTransfer.encode(.init(index: offer.index, term: offer.term, value: offset))))
                case SnapshotTransfer.chunkFrame:
                    let (header, bytes) = try SnapshotTransfer.decode(frame.payload)
                    try appendChunk(header, bytes, from: peer)
                default:
                    throw RejectedFrame("unexpected frame type \(frame.type)")
                }
            }
        } catch {
            logClosed(error, remote: remote, peer: "\(peer)")
        }
    }

    /// Restores a received snapshot's state here, on the reader thread, so the event loop never
    /// spends seconds on it; a snapshot that does not restore is dropped (the leader resends).
    private func restoredState(of message: Message) -> TrackerStateMachine? {
        guard message.kind == .installSnapshot, let data = message.snapshot?.data else { return nil }
        let start = monotonicMillis()
        do {
            let machine = try TrackerStateMachine.restore(data, limits: limits)
            Log.info("snapshot restored", ["snapshot.index": "\(message.snapshot!.meta.index)", "duration.ms": "\(monotonicMillis() - start)"])
            return machine
        } catch {
            Log.warn("received snapshot does not restore", ["error": "\(error)"])
            return nil
        }
    }

    /// Starts or resumes receiving a snapshot; returns the offset to continue from.
    private func acceptOffer(_ offer: SnapshotTransfer.Header, from peer: NodeID) throws -> UInt64 {
        guard offer.value <= UInt64(RaftCodec.snapshotBytesMax) else { throw RejectedFrame("snapshot of \(offer.value) bytes is too large") }
        return assemblies.withLock { all in
            if let current = all[peer], current.index == offer.index, current.term == offer.term, current.total == offer.value {
                return UInt64(current.data.count)
            }
            // Memory grows with the chunks that arrive, never with the size a peer announces.
            all[peer] = SnapshotAssembly(index: offer.index, term: offer.term, total: offer.value)
            return 0
        }
    }

    private func appendChunk(_ header: SnapshotTransfer.Header, _ bytes: ArraySlice<UInt8>, from peer: NodeID) throws {
        try assemblies.withLock { all in
            guard var current = all[peer], current.index == header.index, current.term == header.term,
                  header.value == UInt64(current.data.count), UInt64(current.data.count + bytes.count) <= current.total else {
                all[peer] = nil
                throw RejectedFrame("snapshot chunk out of order")
            }
            all[peer] = nil // avoid a copy while appending
            current.data.append(contentsOf: bytes)
            all[peer] = current
        }
    }

    private func completedSnapshot(from peer: NodeID, meta: SnapshotMeta) -> [UInt8]? {
        assemblies.withLock { all in
            guard let current = all[peer], current.index == meta.index, current.term == meta.term,
                  UInt64(current.data.count) == current.total else { return nil }
            all[peer] = nil
            return current.data
        }
    }
}

/// A snapshot arriving in chunks.
struct SnapshotAssembly: Sendable {
    var index: UInt64
    var term: UInt64
    var total: UInt64
    var data: [UInt8] = []
}

/// A frame that decoded but is not allowed here.
struct RejectedFrame: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

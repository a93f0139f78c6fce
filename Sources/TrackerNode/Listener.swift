import Consensus
import Foundation
import Networking
import Synchronization
import TrackerService
import TrackerStateMachine

/// Accepts connections on the tracker's port and gives each a reader thread. After the
/// handshake a peer tracker may send only Raft messages (from the id it proved), and a client
/// only requests. A malformed frame closes that connection with a logged reason; the tracker
/// and its state are untouched.
final class Listener: Sendable {
    private let socket: Socket
    private let selfID: NodeID
    private let peerIDs: Set<NodeID>
    private let security: PeerSecurity
    private let inputs: BlockingQueue<Input>
    private let clients: ClientConnections
    private let limits: Limits
    /// Snapshots being received, by sending peer: kept across connections so that a broken
    /// transfer resumes where it stopped.
    private let assemblies = Mutex<[NodeID: SnapshotAssembly]>([:])
    static let clientConnectionsMax = 4_096

    init(socket: Socket, selfID: NodeID, peerIDs: Set<NodeID>, security: PeerSecurity,
         inputs: BlockingQueue<Input>, clients: ClientConnections, limits: Limits) {
        self.limits = limits
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
            do {
                let connectionSocket = try socket.accept()
                let thread = Thread { [self] in serve(connectionSocket) }
                thread.name = "connection"
                thread.start()
            } catch {
                Log.warn("accept failed", ["error": "\(error)"])
                usleep(10_000)
            }
        }
    }

    private func serve(_ connectionSocket: Socket) {
        let connection = FramedConnection(socket: connectionSocket)
        let remote = (try? connectionSocket.remoteAddress.description) ?? "?"
        let hello: Hello
        do {
            hello = try Handshake.perform(on: connection, as: .acceptor, role: .tracker, id: selfID,
                                          key: security.key, auth: security.authenticator,
                                          keyFor: { $0 == .tracker ? self.security.key : nil })
        } catch {
            Log.warn("handshake refused", ["remote": remote, "reason": "\(error)"])
            return
        }
        switch hello.role {
        case .tracker where peerIDs.contains(hello.senderID) && hello.senderID != selfID:
            readRaftMessages(from: connection, peer: hello.senderID, remote: remote)
        case .client:
            readRequests(from: connection, remote: remote)
        default:
            Log.warn("connection refused", ["remote": remote, "reason": "role \(hello.role) id \(hello.senderID) not allowed"])
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
            var fresh = SnapshotAssembly(index: offer.index, term: offer.term, total: offer.value)
            fresh.data.reserveCapacity(Int(offer.value))
            all[peer] = fresh
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

    private func readRequests(from connection: FramedConnection, remote: String) {
        guard clients.count < Self.clientConnectionsMax else {
            Log.warn("connection refused", ["remote": remote, "reason": "too many client connections"])
            connection.close()
            return
        }
        let number = clients.add(connection)
        defer {
            clients.remove(number)
            connection.close()
        }
        do {
            while true {
                let frame = try connection.readFrame(maxBytes: ServiceCodec.bodyBytesMax + 64)
                guard frame.type == ServiceFrame.request else { throw RejectedFrame("unexpected frame type \(frame.type)") }
                let (tag, body) = try ServiceFrame.untagged(frame.payload)
                let request = try ServiceCodec.decodeRequest(body)
                inputs.push(.request(request, ReplyTarget(connection: number, tag: tag)))
            }
        } catch {
            logClosed(error, remote: remote, peer: "client")
        }
    }

    private func logClosed(_ error: any Error, remote: String, peer: String) {
        if case FrameError.closed = error { return }
        Log.warn("rejected frame, connection closed", ["remote": remote, "peer": peer, "reason": "\(error)"])
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

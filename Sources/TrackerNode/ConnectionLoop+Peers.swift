import Consensus
import Foundation
import Networking
import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

extension ConnectionLoop {
    /// Takes one frame from a peer tracker that proved the cluster key: a Raft message (from
    /// the id it proved), or a part of a snapshot sent in chunks. A message the boundary
    /// refuses is counted and logged and the link stays up; a frame of another kind closes it.
    func takeRaftFrame(_ frame: Frame, on connection: Connection, from peer: NodeID, nowMillis: UInt64) throws {
        switch frame.type {
        case ServiceFrame.raftMessage:
            var message = try RaftCodec.decodeMessage(frame.payload)
            if let refusal = message.validationError(linkPeer: peer, selfID: selfID) {
                counters.count(.message)
                Log.warn("raft message refused", ["peer.id": "\(peer)", "reason": "\(refusal)"])
                return
            }
            guard message.kind == .installSnapshot else {
                intake.append(.raft(message, restored: nil))
                return
            }
            if let meta = message.snapshot?.meta, message.snapshot?.data.isEmpty == true {
                guard let data = completedSnapshot(from: peer, meta: meta) else { return } // incomplete: the leader retries
                message.snapshot = Snapshot(meta: meta, data: data)
            }
            // Restoring can take seconds: off the loop; it comes back through the control lane.
            restorer.submit(message)
        case SnapshotTransfer.offerFrame:
            let (offer, _) = try SnapshotTransfer.decode(frame.payload)
            let offset = try acceptOffer(offer, from: peer)
            let answer = SnapshotTransfer.encode(.init(index: offer.index, term: offer.term, value: offset))
            queue([Frame(type: SnapshotTransfer.resumeFrame, payload: answer)], on: connection, nowMillis: nowMillis)
        case SnapshotTransfer.chunkFrame:
            let (header, bytes) = try SnapshotTransfer.decode(frame.payload)
            try appendChunk(header, bytes, from: peer)
        default:
            throw RejectedFrame("unexpected frame type \(frame.type)")
        }
    }

    /// Starts or resumes receiving a snapshot; returns the offset to continue from.
    private func acceptOffer(_ offer: SnapshotTransfer.Header, from peer: NodeID) throws -> UInt64 {
        guard offer.value <= UInt64(RaftCodec.snapshotBytesMax) else { throw RejectedFrame("snapshot of \(offer.value) bytes is too large") }
        if let current = assemblies[peer], current.index == offer.index, current.term == offer.term, current.total == offer.value {
            return UInt64(current.data.count)
        }
        // Memory grows with the chunks that arrive, never with the size a peer announces.
        assemblies[peer] = SnapshotAssembly(index: offer.index, term: offer.term, total: offer.value)
        return 0
    }

    private func appendChunk(_ header: SnapshotTransfer.Header, _ bytes: ArraySlice<UInt8>, from peer: NodeID) throws {
        guard var current = assemblies[peer], current.index == header.index, current.term == header.term,
              header.value == UInt64(current.data.count), UInt64(current.data.count + bytes.count) <= current.total else {
            assemblies[peer] = nil
            throw RejectedFrame("snapshot chunk out of order")
        }
        assemblies[peer] = nil // avoid a copy while appending
        current.data.append(contentsOf: bytes)
        assemblies[peer] = current
    }

    private func completedSnapshot(from peer: NodeID, meta: SnapshotMeta) -> [UInt8]? {
        guard let current = assemblies[peer], current.index == meta.index, current.term == meta.term,
              UInt64(current.data.count) == current.total else { return nil }
        assemblies[peer] = nil
        return current.data
    }
}

/// Restores received snapshots on a thread of its own, so the event loop never spends seconds
/// on one, and hands each restored state back through the control lane. A snapshot that does
/// not restore is dropped (the leader resends); so is one overtaken by a newer one waiting.
final class SnapshotRestorer: Sendable {
    private let jobs = BlockingQueue<Message>(capacity: 1)
    private let inputs: BlockingQueue<Input>
    private let limits: Limits

    init(inputs: BlockingQueue<Input>, limits: Limits) {
        self.inputs = inputs
        self.limits = limits
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "snapshot-restorer"
        thread.start()
    }

    func submit(_ message: Message) { jobs.push(message) }

    private func run() {
        while true {
            for message in jobs.drain(timeoutMillis: nil) {
                guard let snapshot = message.snapshot else { continue }
                let start = monotonicMillis()
                do {
                    let machine = try TrackerStateMachine.restore(snapshot.data, limits: limits)
                    Log.info("snapshot restored", ["snapshot.index": "\(snapshot.meta.index)", "duration.ms": "\(monotonicMillis() - start)"])
                    inputs.push(.raft(message, restored: machine))
                } catch {
                    Log.warn("received snapshot does not restore", ["error": "\(error)"])
                }
            }
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

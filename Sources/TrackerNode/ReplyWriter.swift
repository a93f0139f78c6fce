import Foundation
import Networking
import Synchronization
import TrackerService

/// Client connections by number, and one thread that writes replies to them, so a client that
/// stops reading can never stall the event loop that drives Raft.
final class ClientConnections: Sendable {
    private let connections = Mutex<[UInt64: FramedConnection]>([:])
    private let nextNumber = Atomic<UInt64>(1)
    private let outbox = BlockingQueue<Reply>(capacity: 100_000)

    func add(_ connection: FramedConnection) -> UInt64 {
        let number = nextNumber.add(1, ordering: .relaxed).oldValue
        connections.withLock { $0[number] = connection }
        return number
    }

    func remove(_ number: UInt64) {
        _ = connections.withLock { $0.removeValue(forKey: number) }
    }

    var count: Int { connections.withLock { $0.count } }

    func send(_ replies: [Reply]) { outbox.push(contentsOf: replies) }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "reply-writer"
        thread.start()
    }

    private func run() {
        while true {
            let replies = outbox.drain(timeoutMillis: nil)
            var byConnection: [UInt64: [Frame]] = [:]
            for reply in replies {
                let payload = ServiceFrame.tagged(reply.target.tag, ServiceCodec.encode(reply.response))
                byConnection[reply.target.connection, default: []].append(Frame(type: ServiceFrame.response, payload: payload))
            }
            for (number, frames) in byConnection {
                guard let connection = connections.withLock({ $0[number] }) else { continue }
                do {
                    try connection.writeFrames(frames)
                } catch {
                    connection.close()
                    remove(number)
                }
            }
        }
    }
}

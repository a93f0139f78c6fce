import Foundation
import Networking
import Synchronization
import TrackerHosting
import TrackerProtocol

/// Client connections by number, and one thread that writes replies to them. It never blocks
/// on a socket: each connection has its own outbox, sent with non-blocking sends as its socket
/// takes bytes. A client that stops reading hurts only itself: once its replies make no progress
/// for `ConnectionLimits.replyStallMillisMax`, or its backlog passes the outbox limits, its
/// connection is closed, and every other reply keeps flowing. The event loop that drives Raft
/// only ever queues replies here.
final class ClientConnections: Sendable {
    private let links = Mutex<[UInt64: ClientLink]>([:])
    private let nextNumber = Atomic<UInt64>(1)
    /// A reply on its way: from the host, or answered by the shell itself.
    private struct Outgoing: Sendable {
        var target: ReplyTarget
        var response: ClientResponse
    }

    private let outbox = BlockingQueue<Outgoing>(
        capacity: 2 * ConnectionLimits.connectionsMax * ConnectionLimits.requestsInFlightPerConnectionMax)

    /// Registers a connection whose reader thread now owns it.
    func add(_ connection: FramedConnection, remote: String) -> ClientLink {
        let number = nextNumber.add(1, ordering: .relaxed).oldValue
        let link = ClientLink(number: number, connection: connection, remote: remote)
        links.withLock { $0[number] = link }
        return link
    }

    func remove(_ link: ClientLink) {
        _ = links.withLock { $0.removeValue(forKey: link.number) }
    }

    var count: Int { links.withLock { $0.count } }

    /// Queues the host's replies.
    func send(_ replies: [Reply]) { outbox.push(contentsOf: replies.map { Outgoing(target: $0.target, response: $0.response) }) }

    /// Queues an answer the shell gives itself (a refusal before the host sees the request).
    func answer(_ target: ReplyTarget, _ response: ClientResponse) { outbox.push(Outgoing(target: target, response: response)) }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "reply-writer"
        thread.start()
    }

    private func run() {
        var waiting: [UInt64: (link: ClientLink, bytes: Int)] = [:]
        while true {
            let replies = outbox.drain(timeoutMillis: waiting.isEmpty ? nil : ConnectionLimits.replyRetryMillis)
            let now = monotonicMillis()
            for reply in replies { enqueue(reply, into: &waiting, nowMillis: now) }
            flush(&waiting, nowMillis: now)
        }
    }

    private func enqueue(_ reply: Outgoing, into waiting: inout [UInt64: (link: ClientLink, bytes: Int)], nowMillis: UInt64) {
        guard let link = links.withLock({ $0[reply.target.connection] }) else { return }
        let payload = ServiceFrame.tagged(reply.target.tag, ServiceCodec.encode(reply.response))
        guard let bytes = try? Frame.encode([Frame(type: ServiceFrame.response, payload: payload)],
                                            maxBytes: ConnectionLimits.clientFrameBytesMax) else {
            link.releaseSlot() // a reply too large for the client to read; it times out and retries
            return
        }
        let pending = link.enqueue(bytes, nowMillis: nowMillis)
        waiting[link.number] = (link, pending)
        let total = waiting.values.reduce(0) { $0 + $1.bytes }
        if pending > ConnectionLimits.outboxBytesPerConnectionMax || total > ConnectionLimits.outboxBytesTotalMax {
            kill(link, reason: "reply backlog too large", pendingBytes: pending)
            waiting[link.number] = nil
        }
    }

    /// Sends to every connection whose socket takes bytes now (one poll for all), and closes
    /// those that made no progress for too long.
    private func flush(_ waiting: inout [UInt64: (link: ClientLink, bytes: Int)], nowMillis: UInt64) {
        guard !waiting.isEmpty else { return }
        let numbers = waiting.keys.sorted()
        let sockets = numbers.map { waiting[$0]!.link.connection.socket }
        let isWritable = (try? Socket.writable(sockets, timeoutMillis: 0)) ?? Array(repeating: true, count: sockets.count)
        for (number, writable) in zip(numbers, isWritable) {
            guard let link = waiting[number]?.link else { continue }
            let outcome = writable ? link.flush(nowMillis: nowMillis) : link.flush(nowMillis: nowMillis, sending: false)
            guard let outcome, outcome.pendingBytes > 0 else {
                waiting[number] = nil
                continue
            }
            let stalledMillis = nowMillis >= outcome.stalledSinceMillis ? nowMillis - outcome.stalledSinceMillis : 0
            if stalledMillis >= UInt64(ConnectionLimits.replyStallMillisMax) {
                kill(link, reason: "replies not read", pendingBytes: outcome.pendingBytes)
                waiting[number] = nil
            } else {
                waiting[number] = (link, outcome.pendingBytes)
            }
        }
    }

    private func kill(_ link: ClientLink, reason: String, pendingBytes: Int) {
        link.kill()
        Log.warnLimited("client connection closed: it does not read its replies",
                        ["remote": link.remote, "reason": reason, "pending.bytes": "\(pendingBytes)"])
    }
}

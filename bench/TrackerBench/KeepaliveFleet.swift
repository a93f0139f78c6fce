import Foundation
import Networking
import Synchronization
import TrackerProtocol

/// Many client connections to one tracker from this one process, served by one epoll thread
/// (non-blocking sockets, no thread per connection): each sends a keepalive every
/// `periodMillis`, spread evenly over the period, and its answers are counted. Connections are
/// opened (connect + client handshake, blocking) by `grow`, then handed to the thread.
final class KeepaliveFleet: @unchecked Sendable {
    // @unchecked: `poll`, `members` and `scratch` are touched only by the fleet thread after
    // `init`; other threads use `pending` (a Mutex), `wake` and the atomics.
    private struct Member {
        var socket: Socket
        var decoder = FrameDecoder()
        var token: [UInt8]
        var clientID: UInt64
        var sequence: UInt64 = 0
    }

    private let poll: EventPoll
    private let wake: WakeSignal
    private var members: [Member] = []
    private let pending = Mutex<[Member]>([])
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private let isStopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    let periodMillis: Int
    /// Keepalives sent, answered "ok", answered otherwise, and connections lost.
    let sent = Atomic<Int>(0)
    let answered = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    /// The first refusal's answer, printed so a refused figure says why.
    let firstRefusal = Mutex<String?>(nil)
    let lost = Atomic<Int>(0)
    private let opened = Atomic<Int>(0)
    var count: Int { opened.load(ordering: .relaxed) }

    init(periodMillis: Int = 3_000) throws {
        poll = try EventPoll()
        wake = try WakeSignal()
        self.periodMillis = periodMillis
        try poll.add(wake.descriptor, token: UInt64.max, events: .readable)
        let thread = Thread { [self] in run() }
        thread.name = "keepalive-fleet"
        thread.start()
    }

    /// Opens connections to `port` until `total` are open, each from one of many loopback
    /// addresses (a tracker admits at most 128 per address), each keeping `tokens[i % count]` alive.
    func grow(to total: Int, port: UInt16, tokens: [[UInt8]]) throws {
        let auth = HandshakeAuthenticator(mac: { _, _ in [] }, randomBytes: { count in
            var generator = SystemRandomNumberGenerator()
            return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        })
        var batch: [Member] = []
        for i in count..<total {
            let block = i / 100
            let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 2_000,
                                            localHost: "127.1.\(block / 250).\(block % 250 + 1)")
            let connection = FramedConnection(socket: socket)
            _ = try Handshake.perform(on: connection, as: .dialer, role: .client, id: UInt64(1_000_000 + i), key: nil, auth: auth)
            try socket.setBlocking(false)
            batch.append(Member(socket: socket, token: tokens[i % tokens.count], clientID: UInt64(1_000_000 + i)))
            if batch.count == 500 || i == total - 1 {
                pending.withLock { $0.append(contentsOf: batch) }
                opened.add(batch.count, ordering: .relaxed)
                batch.removeAll()
                wake.signal()
            }
        }
    }

    /// Stops the thread and closes every connection.
    func stop() {
        isStopping.store(true, ordering: .releasing)
        wake.signal()
        _ = stopped.wait(timeout: .now() + 5)
    }

    private func run() {
        var cursor = 0
        var credit = 0.0
        var last = nowNanos()
        while !isStopping.load(ordering: .acquiring) {
            adopt()
            for event in (try? poll.wait(timeoutMillis: 5)) ?? [] {
                if event.token == UInt64.max { wake.clear() } else { receive(Int(event.token)) }
            }
            let now = nowNanos()
            // Each connection once per period: credit accrues at count / period.
            credit += Double(now - last) / 1e6 * Double(members.count) / Double(periodMillis)
            last = now
            while credit >= 1, !members.isEmpty {
                credit -= 1
                sendKeepalive(cursor % members.count)
                cursor += 1
            }
        }
        for member in members { member.socket.close() }
        stopped.signal()
    }

    private func adopt() {
        let fresh = pending.withLock { taken in
            defer { taken.removeAll() }
            return taken
        }
        for member in fresh {
            let index = members.count
            members.append(member)
            if (try? poll.add(member.socket.descriptor, token: UInt64(index), events: .readable)) == nil { lost.add(1, ordering: .relaxed) }
        }
    }

    private func sendKeepalive(_ index: Int) {
        members[index].sequence += 1
        let member = members[index]
        let request = ClientRequest(clientID: member.clientID, sequence: member.sequence, token: member.token,
                                    operation: .command(.keepAlive))
        let frame = Frame(type: ServiceFrame.request, payload: ServiceFrame.tagged(member.sequence, ServiceCodec.encode(request)))
        guard let bytes = try? Frame.encode([frame]), let taken = try? member.socket.sendAvailable(bytes[...]), taken == bytes.count else {
            lost.add(1, ordering: .relaxed) // a keepalive the kernel would not take whole: counted, not retried
            return
        }
        sent.add(1, ordering: .relaxed)
    }

    private func receive(_ index: Int) {
        guard index < members.count else { return }
        // Bounded: at most 16 reads per wake-up; the rest is read on the next (level-triggered).
        for _ in 0..<16 {
            let outcome = (try? scratch.withUnsafeMutableBytes { try members[index].socket.receiveAvailable(into: $0) }) ?? .endOfStream
            switch outcome {
            case .wouldBlock: return
            case .endOfStream:
                poll.remove(members[index].socket.descriptor)
                lost.add(1, ordering: .relaxed)
                return
            case let .received(count):
                members[index].decoder.append(scratch[0..<count])
                while let frame = try? members[index].decoder.nextFrame(maxBytes: 1 << 20) {
                    let answer = (try? ServiceFrame.untagged(frame.payload)).flatMap { try? ServiceCodec.decodeResponse($0.body) }
                    if case .result(.ok) = answer {
                        answered.add(1, ordering: .relaxed)
                    } else {
                        refused.add(1, ordering: .relaxed)
                        firstRefusal.withLock { first in if first == nil { first = answer.map { "\($0)" } ?? "undecodable frame" } }
                    }
                }
            }
        }
    }
}

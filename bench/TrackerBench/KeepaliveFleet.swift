import Foundation
import Networking
import Synchronization
import SystemClock
import TrackerProtocol

/// Many client connections to one tracker from this one process, served by one epoll thread
/// (non-blocking sockets, no thread per connection): each sends a keepalive every
/// `periodMillis`, spread evenly over the period, and its answers are counted. Connections are
/// opened (connect, TLS to a pinned tracker, client handshake, all blocking) by `grow`, then
/// handed to the thread, which drives each one's TLS layer over its non-blocking socket.
final class KeepaliveFleet: @unchecked Sendable {
    // @unchecked: `poll`, `members` and `scratch` are touched only by the fleet thread after
    // `init`; other threads use `pending` (a Mutex), `wake` and the atomics.
    private struct Member: @unchecked Sendable {
        // @unchecked: `tls` (a class) is made by `grow`, handed over once through `pending`, and
        // from then on touched by the fleet thread only.
        var socket: Socket
        var tls: TLSTransport?
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
    /// addresses (a tracker admits at most 128 per address), each keeping `tokens[i % count]` alive;
    /// over TLS when `pin` is given (the tracker's fingerprint), else plaintext.
    func grow(to total: Int, port: UInt16, pin: CertificateFingerprint?, tokens: [[UInt8]]) throws {
        let context = try pin.map { _ in try TLSContext(side: .client, identity: benchIdentity) }
        let auth = HandshakeAuthenticator(mac: { _, _ in [] }, randomBytes: { count in
            var generator = SystemRandomNumberGenerator()
            return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        })
        var batch: [Member] = []
        for i in count..<total {
            let block = i / 100
            let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 2_000,
                                            localHost: "127.1.\(block / 250).\(block % 250 + 1)")
            var member = Member(socket: socket, token: tokens[i % tokens.count], clientID: UInt64(1_000_000 + i))
            if let context, let pin {
                let stream = try TransportStream(socket: socket, transport: TLSTransport(session: TLSSession(context: context, verification: .pinned([pin]))))
                _ = try Handshake.perform(on: FramedConnection(socket: socket, stream: stream), as: .dialer, role: .client, id: member.clientID, key: nil, auth: auth)
                member.tls = stream.transport
                member.decoder.append(stream.takePlaintext()[...])
            } else {
                _ = try Handshake.perform(on: FramedConnection(socket: socket), as: .dialer, role: .client, id: member.clientID, key: nil, auth: auth)
            }
            try socket.setBlocking(false)
            batch.append(member)
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
        var last = SystemClock.monotonicNanos()
        while !isStopping.load(ordering: .acquiring) {
            adopt()
            for event in (try? poll.wait(timeoutMillis: 5)) ?? [] {
                if event.token == UInt64.max { wake.clear() } else { receive(Int(event.token)) }
            }
            let now = SystemClock.monotonicNanos()
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
        guard let plain = try? Frame.encode([frame]), let bytes = seal(plain, by: member.tls), let taken = try? member.socket.sendAvailable(bytes[...]), taken == bytes.count else {
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
                guard let plain = open(scratch[0..<count], for: index) else {
                    poll.remove(members[index].socket.descriptor)
                    lost.add(1, ordering: .relaxed)
                    return
                }
                members[index].decoder.append(plain)
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

    /// The bytes to send for `plain`: sealed when the member speaks TLS; nil if sealing failed.
    private func seal(_ plain: [UInt8], by tls: TLSTransport?) -> [UInt8]? {
        guard let tls else { return plain }
        do { try tls.seal(plain) } catch { return nil }
        return tls.takeOutgoing()
    }

    /// The plaintext `received` carried (decrypted when the member speaks TLS; what the session
    /// has to send back, e.g. nothing or an alert, is sent best effort); nil when it failed.
    private func open(_ received: ArraySlice<UInt8>, for index: Int) -> ArraySlice<UInt8>? {
        guard let tls = members[index].tls else { return received }
        guard let plain = try? tls.receive(received), !plain.isClosed else { return nil }
        let reply = tls.takeOutgoing()
        if !reply.isEmpty { _ = try? members[index].socket.sendAvailable(reply[...]) }
        return plain.plaintext[...]
    }
}

/// A blocking `ByteStream` over a socket and a client `TLSTransport`, for a fleet member's setup
/// (the TLS handshake and the hello); the fleet thread then drives the same transport itself.
private final class TransportStream: ByteStream, @unchecked Sendable {
    // @unchecked: used by one thread (`grow`'s) while the member is set up.
    let socket: Socket
    let transport: TLSTransport
    private var plaintext: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 16 * 1024)

    init(socket: Socket, transport: TLSTransport) throws {
        self.socket = socket
        self.transport = transport
        try socket.send(all: transport.takeOutgoing()) // the ClientHello
    }

    /// Plaintext received beyond what the hello read (taken).
    func takePlaintext() -> [UInt8] {
        defer { plaintext = [] }
        return plaintext
    }

    func send(all bytes: [UInt8]) throws {
        try transport.seal(bytes)
        try socket.send(all: transport.takeOutgoing())
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant?) throws -> Int {
        // Bounded: the handshake and a hello take a few records; a peer that sends nothing times out.
        for _ in 0..<1_000 where plaintext.isEmpty {
            let count = try chunk.withUnsafeMutableBytes { try socket.receive(into: $0, deadline: deadline) }
            guard count > 0 else { return 0 }
            let received = try transport.receive(chunk[0..<count])
            let reply = transport.takeOutgoing()
            if !reply.isEmpty { try socket.send(all: reply) }
            plaintext += received.plaintext
            if received.isClosed && plaintext.isEmpty { return 0 }
        }
        let count = min(buffer.count, plaintext.count)
        plaintext.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        plaintext.removeFirst(count)
        return count
    }

    func waitUntilReadable(timeoutMillis: Int) throws -> Bool {
        try !plaintext.isEmpty || socket.waitUntilReadable(timeoutMillis: timeoutMillis)
    }

    func close() { socket.close() }
}

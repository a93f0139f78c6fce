import Foundation
import Networking
import Testing
import TrackerProtocol
@testable import TrackerNode

/// The event loop's rules, each over loopback against a `LoopHarness` (a stand-in host that
/// answers every request at once), in bounded time.
@Suite("event loop connections", .serialized)
struct ConnectionLoopTests {
    @Test("3,000 clients from 30 addresses are served by one loop thread: each handshakes, asks and is answered")
    func manyConnections() throws {
        raiseOwnDescriptorLimit()
        let harness = try LoopHarness()
        defer { harness.stop() }
        var clients: [FramedConnection] = []
        defer { for client in clients { client.close() } }
        for i in 0..<3_000 { clients.append(try rawClient(port: harness.port, from: "127.0.1.\(1 + i % 30)")) }
        #expect(harness.wait(seconds: 10) { harness.gauge.count == 3_000 }, "\(harness.gauge.count) clients open")
        for (i, client) in clients.enumerated() { try client.writeFrame(requestFrame(.clusterStatus, tag: UInt64(i + 1))) }
        var answered = 0
        for (i, client) in clients.enumerated() {
            let (tag, response) = try decodeAnswer(try client.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(10)))
            if tag == UInt64(i + 1), response == .result(.ok(.done)) { answered += 1 }
        }
        #expect(answered == 3_000)
    }

    @Test("a client that never reads its large replies is cut; another client's answers keep coming within 200 ms")
    func slowReaderCut() throws {
        let big = ClientResponse.rejected(reason: String(repeating: "x", count: 60_000))
        let harness = try LoopHarness { request in request.sequence < 1_000_000 ? big : .result(.ok(.done)) }
        defer { harness.stop() }
        let greedy = try rawClient(port: harness.port, from: "127.0.2.1")
        defer { greedy.close() }
        try greedy.socket.setSendTimeout(millis: 100)
        let polite = try rawClient(port: harness.port, from: "127.0.2.2")
        defer { polite.close() }
        // Asks for far more than the socket buffers and the outbox bound hold; never reads.
        let writer = Worker<Void> {
            for tag in 1...4_000 { try? greedy.writeFrame(requestFrame(.clusterStatus, tag: UInt64(tag))) }
        }
        var worstMillis = 0
        for tag in 1_000_001...1_000_040 {
            let start = Date()
            try polite.writeFrame(requestFrame(.clusterStatus, tag: UInt64(tag)))
            _ = try polite.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(2))
            worstMillis = max(worstMillis, millis(since: start))
            usleep(50_000)
        }
        #expect(worstMillis < 200, "polite client waited \(worstMillis) ms")
        #expect(harness.wait(seconds: 5) { harness.gauge.count == 1 }, "\(harness.gauge.count) clients open")
        _ = writer.join(seconds: 10)
    }

    @Test("a client silent past the idle timeout is closed; one that keeps asking stays")
    func idleTimeout() throws {
        var deadlines = ConnectionDeadlines()
        deadlines.clientIdleMillis = 400
        let harness = try LoopHarness(deadlines: deadlines)
        defer { harness.stop() }
        let silent = try rawClient(port: harness.port, from: "127.0.3.1")
        defer { silent.close() }
        let busy = try rawClient(port: harness.port, from: "127.0.3.2")
        defer { busy.close() }
        for tag in 1...10 {
            try busy.writeFrame(requestFrame(.clusterStatus, tag: UInt64(tag)))
            _ = try busy.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(2))
            usleep(100_000)
        }
        #expect(isClosedByPeer(silent, withinMillis: 1_000))
        try busy.writeFrame(requestFrame(.clusterStatus, tag: 11))
        #expect(try decodeAnswer(try busy.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(2))).tag == 11)
    }

    @Test("a handshake not finished within its deadline is closed, however slowly bytes trickle")
    func handshakeDeadline() throws {
        var deadlines = ConnectionDeadlines()
        deadlines.handshakeMillis = 300
        let harness = try LoopHarness(deadlines: deadlines)
        defer { harness.stop() }
        let socket = try Socket.connect(host: "127.0.0.1", port: harness.port, timeoutMillis: 1_000)
        let connection = FramedConnection(socket: socket)
        defer { connection.close() }
        let start = Date()
        let trickle = Worker<Void> {
            for byte: UInt8 in [0, 0, 0] { // the start of a length prefix, a byte at a time
                try? socket.send(all: [byte])
                usleep(100_000)
            }
        }
        #expect(isClosedByPeer(connection, withinMillis: 2_000))
        let took = millis(since: start)
        #expect(took >= 250 && took < 1_500, "closed after \(took) ms")
        _ = trickle.join(seconds: 5)
    }

    @Test("a request split into single bytes with pauses between them is answered whole")
    func partialFrames() throws {
        let harness = try LoopHarness { request in request.sequence == 7 ? .result(.ok(.done)) : .rejected(reason: "wrong request") }
        defer { harness.stop() }
        let client = try rawClient(port: harness.port, from: "127.0.4.1")
        defer { client.close() }
        let bytes = try Frame.encode([requestFrame(.clusterStatus, tag: 7)])
        for byte in bytes {
            try client.socket.send(all: [byte])
            usleep(2_000)
        }
        let (tag, response) = try decodeAnswer(try client.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(2)))
        #expect(tag == 7 && response == .result(.ok(.done)))
    }

    @Test("a frame announcing more than the client limit is refused before its bytes come: the connection closes, others are served")
    func oversizeFrame() throws {
        let harness = try LoopHarness()
        defer { harness.stop() }
        let hostile = try rawClient(port: harness.port, from: "127.0.5.1")
        defer { hostile.close() }
        let length = UInt32(ConnectionLimits.clientFrameBytesMax + 1)
        try hostile.socket.send(all: [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff),
                                      ServiceFrame.request])
        #expect(isClosedByPeer(hostile, withinMillis: 2_000))
        #expect(harness.requestCount.load(ordering: .relaxed) == 0)
        let other = try rawClient(port: harness.port, from: "127.0.5.2")
        defer { other.close() }
        try other.writeFrame(requestFrame(.clusterStatus, tag: 1))
        #expect(try decodeAnswer(try other.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(2))).tag == 1)
    }

    @Test("past an address's share and past the total budget, connections are closed at accept; a slot freed is reused")
    func caps() throws {
        let harness = try LoopHarness(limits: LoopHarness.limits(total: 6, perAddress: 4))
        defer { harness.stop() }
        var held: [FramedConnection] = []
        defer { for connection in held { connection.close() } }
        for _ in 0..<4 { held.append(try rawClient(port: harness.port, from: "127.0.6.1")) }
        #expect(throws: (any Error).self) { try rawClient(port: harness.port, from: "127.0.6.1") }
        for _ in 0..<2 { held.append(try rawClient(port: harness.port, from: "127.0.6.2")) }
        #expect(throws: (any Error).self) { try rawClient(port: harness.port, from: "127.0.6.3") }
        #expect(harness.gauge.count == 6)
        held.removeFirst().close()
        #expect(harness.wait(seconds: 2) { harness.gauge.count == 5 })
        held.append(try rawClient(port: harness.port, from: "127.0.6.3"))
        #expect(harness.wait(seconds: 2) { harness.gauge.count == 6 })
    }

    @Test("with a TLS context the loop speaks TLS 1.3 first: a pinned client handshakes, asks and is answered; a plaintext client gets nothing")
    func tlsLoopback() throws {
        let directory = NSTemporaryDirectory() + "loop-tls-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1")
        let harness = try LoopHarness(tls: try TLSContext(side: .server, identity: identity))
        defer { harness.stop() }
        let socket = try Socket.connect(host: "127.0.0.1", port: harness.port, timeoutMillis: 1_000)
        let stream = try TLSStream.handshake(socket: socket, context: try TLSContext(side: .client, identity: nil),
                                             verification: .pinned([identity.fingerprint]), deadline: .now + .seconds(5))
        let client = FramedConnection(tls: stream)
        defer { client.close() }
        _ = try Handshake.perform(on: client, as: .dialer, role: .client, id: 7, key: nil, auth: forgerAuth)
        for tag: UInt64 in 1...20 { try client.writeFrame(requestFrame(.clusterStatus, tag: tag)) }
        for tag: UInt64 in 1...20 {
            let (answered, response) = try decodeAnswer(try client.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(5)))
            #expect(answered == tag && response == .result(.ok(.done)))
        }
        #expect(throws: (any Error).self) { try rawClient(port: harness.port, from: "127.0.7.1") }
    }
}

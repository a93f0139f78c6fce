import Foundation
import Networking
import Testing

/// Sends `bytes` one at a time, `gapMillis` apart, until done or the socket fails.
func dribble(_ bytes: [UInt8], over socket: Socket, gapMillis: Int) -> PeerThread<Void> {
    PeerThread<Void>.start {
        for byte in bytes {
            guard (try? socket.send(all: [byte])) != nil else { return }
            usleep(UInt32(gapMillis * 1_000))
        }
    }
}

func elapsedMillis(since start: ContinuousClock.Instant) -> Int {
    let parts = start.duration(to: .now).components
    return Int(parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000)
}

@Suite("bounded reads and sends", .serialized)
struct BoundedReadTests {
    @Test("a frame read with a deadline fails at the deadline even while bytes keep trickling in")
    func frameDeadlineBeatsTrickle() throws {
        let (sender, receiver) = try makeConnectedPair()
        defer { sender.close(); receiver.close() }
        let frame = try Frame.encode([Frame(type: 20, payload: [UInt8](repeating: 9, count: 60))])
        let trickle = dribble(frame, over: sender, gapMillis: 20)
        let connection = FramedConnection(socket: receiver)
        let start = ContinuousClock.now
        #expect(throws: SocketError.timedOut(operation: "receive")) {
            _ = try connection.readFrame(deadline: .now + .milliseconds(300))
        }
        let took = elapsedMillis(since: start)
        #expect(took >= 290 && took < 900, "took \(took) ms")
        sender.close()
        _ = try? trickle.join()
    }

    @Test("a handshake is one deadline: a peer dribbling its hello cannot stretch it")
    func handshakeDeadline() throws {
        let (dialerSocket, acceptorSocket) = try makeConnectedPair()
        defer { dialerSocket.close() }
        let hello = Hello(protocolVersion: Handshake.protocolVersion, role: .client, senderID: 5, nonce: [UInt8](repeating: 4, count: 16))
        let bytes = try Frame.encode([Frame(type: HandshakeFrameType.hello.rawValue, payload: hello.encoded())])
        // 36 bytes, 40 ms apart: each read would see progress well within a per-read timeout.
        let trickle = dribble(bytes, over: dialerSocket, gapMillis: 40)
        let start = ContinuousClock.now
        #expect(throws: SocketError.timedOut(operation: "receive")) {
            _ = try Handshake.perform(on: FramedConnection(socket: acceptorSocket), as: .acceptor, role: .tracker, id: 1, key: nil,
                                      auth: TestOnlyInsecureAuthenticator.make(seed: 1), timeoutMillis: 400)
        }
        let took = elapsedMillis(since: start)
        #expect(took < 1_000, "took \(took) ms")
        dialerSocket.close()
        _ = try? trickle.join()
    }

    @Test("read memory follows the bytes that arrived, not the length a frame announces")
    func announcedLengthNotAllocated() throws {
        let (sender, receiver) = try makeConnectedPair()
        defer { sender.close(); receiver.close() }
        let connection = FramedConnection(socket: receiver)
        #expect(connection.readBufferByteCount <= NetworkingLimits.readChunkBytesInitial)
        // Announce 48 MiB (under the frame limit), send 100 bytes of it.
        try sender.send(all: [0x03, 0x00, 0x00, 0x00, 20] + [UInt8](repeating: 1, count: 100))
        #expect(throws: SocketError.timedOut(operation: "receive")) {
            _ = try connection.readFrame(deadline: .now + .milliseconds(100))
        }
        #expect(connection.readBufferByteCount <= NetworkingLimits.readChunkBytesInitial + 105)
        // A large frame that does arrive grows the receive buffer only up to its bound.
        let payload = [UInt8](repeating: 2, count: 3 << 20)
        let (other, otherReceiver) = try makeConnectedPair()
        defer { other.close(); otherReceiver.close() }
        let big = FramedConnection(socket: otherReceiver)
        let bigWriter = PeerThread<Void>.start { try other.send(all: try Frame.encode([Frame(type: 21, payload: payload)])) }
        #expect(try big.readFrame().payload.count == payload.count)
        #expect(big.readBufferByteCount <= NetworkingLimits.readChunkBytes)
        try bigWriter.join()
    }

    @Test("a non-blocking send to a peer that never reads returns 0 instead of blocking")
    func sendAvailableNeverBlocks() throws {
        let (sender, receiver) = try makeConnectedPair()
        defer { sender.close(); receiver.close() }
        let chunk = [UInt8](repeating: 7, count: 1 << 20)
        var total = 0
        var sawFull = false
        let start = ContinuousClock.now
        for _ in 0..<256 where !sawFull {
            let sent = try sender.sendAvailable(chunk[...])
            total += sent
            sawFull = sent == 0
        }
        #expect(sawFull, "the socket took \(total) bytes without filling")
        #expect(elapsedMillis(since: start) < 2_000)
        #expect(try Socket.writable([sender], timeoutMillis: 0) == [false])
        // Once the reader drains what was sent, the socket is writable again.
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var received = 0
        while received < total { received += try receiver.receive(into: &buffer) }
        #expect(try Socket.writable([sender], timeoutMillis: 1_000) == [true])
    }

    @Test("a socket bound to another loopback address reaches the peer from that address")
    func connectFromLocalAddress() throws {
        let (listener, port) = try makeListener()
        defer { listener.close() }
        let dialer = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000, localHost: "127.0.0.7")
        defer { dialer.close() }
        let accepted = try listener.accept()
        defer { accepted.close() }
        #expect(try accepted.remoteAddress.host == "127.0.0.7")
        #expect(try dialer.localAddress.host == "127.0.0.7")
    }
}
